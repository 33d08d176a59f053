"""`agents-sdk ship JOURNAL --broker URL | --url URL --token T`: drain a journal to a portal."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from agents_sdk import environment as env
from agents_sdk.audit.journal import JournalLocked, acquire_writer_lock
from agents_sdk.commands import Command, CommandError, existing_journal

DESCRIPTION = """\
Send every event after the journal's shipped cursor (<journal>.shipped) to the
portal, over Celery/Redis (--broker) or HTTP (--url and --token), and move the
cursor as the portal acknowledges. Safe to interrupt and run again: the portal
treats a resend as a no-op.

The journal must not be open by a writer (its own shipper owns the cursor);
the command holds the writer lock while it ships.

exit status: 0 everything shipped, 1 events left unshipped (error printed),
             2 usage error or journal busy
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", type=existing_journal, help="the journal's active file path")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--broker", metavar="URL", help="Celery broker, e.g. redis://host:6379/0")
    target.add_argument("--url", metavar="URL", help="portal base URL for POST /api/v1/ingest")
    parser.add_argument(
        "--token",
        default=env.text(env.INGEST_TOKEN),
        help="the agent's ingest token (default: $AGENTS_SDK_INGEST_TOKEN); required with --url",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="events per batch")
    parser.add_argument("--max-in-flight", type=int, default=4, help="batches travelling at once")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="give up after this long"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from agents_sdk.shipping.celery_transport import CeleryTransport
    from agents_sdk.shipping.http_transport import HttpTransport
    from agents_sdk.shipping.shipper import Shipper
    from agents_sdk.shipping.transport import Transport

    if args.url and not args.token:
        raise CommandError("--url needs --token (or AGENTS_SDK_INGEST_TOKEN)")
    if args.batch_size < 1 or args.max_in_flight < 1:
        raise CommandError("--batch-size and --max-in-flight must be at least 1")
    try:
        lock = acquire_writer_lock(args.journal)
    except JournalLocked as exc:
        raise CommandError(
            f"{args.journal} is open for writing (pid {exc.holder}); its own shipper sends it. "
            "Stop that process first, or let it ship."
        ) from None
    try:
        transport: Transport
        if args.url:
            try:
                transport = HttpTransport(args.url, args.token, max_in_flight=args.max_in_flight)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        else:
            transport = CeleryTransport(args.broker, token=args.token)
        shipper = Shipper(
            args.journal,
            transport,
            batch_size=args.batch_size,
            max_in_flight=args.max_in_flight,
        )
        pending = shipper.pending_events()
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        outcome: list[bool] = []
        worker = threading.Thread(target=lambda: outcome.append(shipper.drain(deadline)))
        started = time.monotonic()
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            if not args.quiet:
                _progress(shipper.shipped_events, pending, started)
        transport.close()
        done = bool(outcome and outcome[0])
        left = shipper.pending_events()
        rate = shipper.shipped_events / max(1e-9, time.monotonic() - started)
        summary = (
            f"shipped {shipper.shipped_events} event(s) in {time.monotonic() - started:.1f} s"
            f" ({rate:,.0f}/s); {left} left; cursor at seq {shipper.cursor.seq}"
        )
        print(summary)
        if not done or left:
            reason = shipper.last_error or "the deadline passed"
            print(f"agents-sdk ship: not everything was shipped: {reason}", file=sys.stderr)
            return 1
        return 0
    finally:
        lock.close()


def _progress(shipped: int, pending: int, started: float) -> None:
    elapsed = time.monotonic() - started
    print(
        f"shipping: {shipped} of {pending} event(s), {shipped / max(elapsed, 1e-9):,.0f}/s",
        file=sys.stderr,
        flush=True,
    )


COMMAND = Command(
    name="ship",
    help="send a journal's unshipped events to a portal",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)

"""`manage.py verify_streams`: walk every stream; exit 0 when all verify, 1 when not."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.core.management.base import BaseCommand

from obsportal.integrity.models import StreamVerification, VerificationRun
from obsportal.integrity.verification import CHUNK_SIZE, estimated_events, verify_streams


class ProgressBar:
    """A one-line progress bar on stderr (redrawn at most 10 times a second)."""

    def __init__(self, total: int, stream: TextIO, width: int = 30):
        # The caller passes the stream it has now: a `sys.stderr` default, bound at import
        # time, may be a capture file closed long since (CI failed on exactly that).
        self.total, self.done, self.stream, self.width = max(total, 1), 0, stream, width
        self.started = time.monotonic()
        self.drawn = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.drawn >= 0.1:
            self.drawn = now
            self.draw(now)

    def draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        rate = self.done / max(now - self.started, 1e-9)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} events {rate:,.0f}/s")
        self.stream.flush()

    def close(self) -> None:
        self.draw(time.monotonic())
        self.stream.write("\n")


class Command(BaseCommand):
    help = "Verify every stream's hash chain and compare it with the signed checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("--stream", action="append", help="only this stream (repeatable)")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        bar = None if options["no_progress"] else ProgressBar(estimated_events(), sys.stderr)
        run = verify_streams(
            stream_ids=options["stream"],
            trigger="command",
            progress=bar.advance if bar else None,
            chunk_size=options["chunk_size"],
        )
        if bar:
            bar.close()
        for problem in run.checkpoint_problems:
            self.stdout.write(f"CHECKPOINT PROBLEM: {problem}")
        for result in run.streams.all():
            self.stdout.write(describe(result))
        elapsed = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(
            f"run {run.pk}: {run.get_status_display()} — {run.events_checked} events in "
            f"{run.streams_checked} streams, {run.streams_with_problems} with problems, "
            f"{elapsed:.1f} s"
        )
        if run.status != VerificationRun.Status.VERIFIED:
            sys.exit(1)


def describe(r: StreamVerification) -> str:
    span = f"{r.verified_from}..{r.verified_to}" if r.verified_to is not None else "none"
    lines = [f"stream {r.stream_id}: {r.status}; verified {span} of {r.events_checked} events"]
    if r.first_break:
        where = f" (event {r.first_break['event_id']})" if r.first_break.get("event_id") else ""
        lines.append(
            f"  first broken link: seq {r.first_break['seq']}{where}: {r.first_break['reason']}"
        )
    if r.gaps:
        lines.append("  gaps: " + ", ".join(f"{a}..{b}" for a, b in r.gaps))
    for fork in r.forks:
        lines.append(f"  fork at seq {fork['seq']}: offered {fork['offered_hash'][:12]}…")
    for d in r.checkpoint_disagreements:
        lines.append(f"  {d['reason']}")
    by_request: dict[str, list[dict]] = {}
    for entry in r.erased:
        by_request.setdefault(entry.get("reference") or "an older erasure", []).append(entry)
    for reference, entries in by_request.items():
        first = entries[0]
        lines.append(
            f"  erased under request {reference}: {len(entries)} field(s), "
            f"first seq {first['seq']} '{first['field']}'"
        )
    return "\n".join(lines)

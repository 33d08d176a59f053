"""A portal process killed with -9 after serving reads whose database copy had not been
made yet: its journal holds them, and recovery stores them, once, in one verified chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.verification import verify_streams
from obsportal.trail.recovery import recover_trail_journals
from obsportal.trail.services import flush_trail, record_trail
from tests.support.chains import superuser_sql
from tests.support.people import person
from tests.support.trail import trail

ROOT = Path(__file__).resolve().parents[2]
READS = 5

# A portal process: signed in, it waits for "go", serves READS authenticated reads (each
# answered once its trail line is written), says so, and waits to be killed.
SERVE = """
import sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from obsportal.trail.services import flush_trail
client = Client()
client.force_login(get_user_model().objects.get(username="kim-auditor"))
flush_trail()
print("ready", flush=True)
sys.stdin.readline()
statuses = [client.get("/api/v1/checkpoints/").status_code for _ in range(int(sys.argv[1]))]
print("served", *statuses, flush=True)
time.sleep(600)
"""


def dsn() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def serve_reads(directory: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=dsn(),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DJANGO_ALLOWED_HOSTS="testserver",
        OBSPORTAL_TRAIL_JOURNAL_DIR=str(directory),
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTEST_XDIST_WORKER", None)  # the database is named in full above
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, str(READS)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(directory.parent / f"{directory.name}.log").open("w"),
        text=True,
    )


def killed_after_reads(directory: Path) -> str:
    """Start a portal process, let it serve its reads while no trail copy can be stored
    (the stream table is held), kill it with -9; its "served" line."""
    served = serve_reads(directory)
    try:
        assert served.stdout.readline() == "ready\n", served.stdout.read()
        with psycopg.connect(dsn()) as holder:
            holder.execute("LOCK TABLE ingest_stream IN EXCLUSIVE MODE")
            served.stdin.write("go\n")
            served.stdin.flush()
            line = served.stdout.readline()
            os.kill(served.pid, signal.SIGKILL)
            served.wait()
            holder.rollback()
        return line
    finally:
        if served.poll() is None:
            served.kill()
            served.wait()


def journal_lines(journal: Path) -> list[dict]:
    return [orjson.loads(line) for line in journal.read_bytes().splitlines()]


@pytest.mark.django_db(transaction=True)
def test_reads_served_by_a_process_killed_before_its_copy_are_recovered_once(
    django_user_model, tmp_path
):
    person(django_user_model, "kim-auditor", "auditor")
    directory = tmp_path / "trail"
    # The reads are answered although no copy can be stored: a request waits for its
    # journal line, not for the database.
    line = killed_after_reads(directory)
    assert line.split() == ["served", *["200"] * READS], line
    [journal] = directory.glob("*.jsonl")
    written = journal_lines(journal)
    assert [e["action"] for e in written] == ["auth.login", *["checkpoints.view"] * READS]
    stream = written[0]["stream"]
    # The sign-in was copied before the table was held; the reads died with the process.
    assert AuditEvent.objects.filter(stream_id=stream).count() == 1

    found = recover_trail_journals(directory)
    assert (found.recovered, found.failed, found.live) == ({stream: READS}, {}, 0)
    stored = list(AuditEvent.objects.filter(stream_id=stream).order_by("seq"))
    assert [(e.seq, e.hash) for e in stored] == [(e["seq"], e["hash"]) for e in written]
    assert verify_streams().status == "verified"
    [recorded] = trail("trail.recover")
    assert (recorded.resource, recorded.details["events"]) == (f"stream:{stream}", READS)
    assert recorded.details["stream_known"] is True  # the sign-in had been copied
    # Once: a second pass finds the journal complete (marked so, it is not read again)
    # and stores nothing; after a restore of the database, --recheck reads it again.
    assert orjson.loads((directory / f"{journal.name}.stored").read_bytes())["seq"] == READS
    again = recover_trail_journals(directory)
    assert (again.complete, again.recovered) == (1, {})
    assert AuditEvent.objects.filter(stream_id=stream).count() == READS + 1
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq > 2", (stream,)),
        ("UPDATE ingest_stream SET head_seq = 2, head_hash = %s WHERE id = %s",
         (written[2]["hash"], stream)),
    )  # fmt: skip
    assert recover_trail_journals(directory).recovered == {}
    assert recover_trail_journals(directory, recheck=True).recovered == {stream: READS - 2}
    assert verify_streams().status == "verified"


@pytest.mark.django_db(transaction=True)
def test_a_live_processs_journal_is_left_to_it_and_an_altered_line_is_not_stored(
    django_user_model, tmp_path, trail_journal, capsys
):
    person(django_user_model, "kim-auditor", "auditor")
    record_trail("page.view", actor="here")  # this process's stream: its lock is held
    flush_trail()
    found = recover_trail_journals(trail_journal)
    assert (found.journals, found.live, found.recovered) == (1, 1, {})

    # A dead process's journal whose third line was altered on disk.
    directory = tmp_path / "dead"
    assert killed_after_reads(directory).startswith("served")
    [journal] = directory.glob("*.jsonl")
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"user_id":"kim-auditor"', b'"user_id":"kim-auditer"')
    journal.write_bytes(b"".join(lines))

    with pytest.raises(SystemExit) as exit_:
        call_command("recover_trail", "--directory", str(directory))
    assert exit_.value.code == 1
    out = capsys.readouterr()
    assert "0 recovered (0 events stored), 1 failed" in out.out
    assert "seq 2 of the journal does not verify: hash does not match" in out.err
    # Every line is checked before any is stored: nothing more of that journal was.
    assert AuditEvent.objects.filter(stream_id=journal.stem).count() == 1

"""`demo --incidents`: a second demo agent whose stream the integrity pages have something to show
of: a fork (a different event offered at a stored seq), a gap (events shipped ahead of a missing
one) and so a dead letter, all through the same ingest task an agent's shipper calls. The demo
officer acknowledges the fork (on the trail); the gap is left open.

Run again, it finds its incident and stages nothing new.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from agents_sdk import JournalWriter
from agents_sdk.audit.chain import compute_hash, hashed_body
from agents_sdk.shipping.transports import INGEST_TASK
from obsportal.accounts.services import issue_agent_token
from obsportal.celery import app as celery_app
from obsportal.demo.services import DEMO_USER
from obsportal.ingest.models import IntegrityIncident
from obsportal.integrity.acknowledgements import acknowledge

INCIDENT_AGENT = "demo-forking-agent"


def _ship(token: str, events: list[dict]) -> dict:
    # The shipper's own task, run here in process as the embedded portal runs it.
    return celery_app.tasks[INGEST_TASK].apply(args=[{"token": token, "events": events}]).get()


def stage_incidents(journal_dir: Path | None = None) -> str:
    """Stage a fork and a gap on a stream of INCIDENT_AGENT; say what was done."""
    known = IntegrityIncident.objects.filter(stream__agent_id=INCIDENT_AGENT).first()
    if known is not None:
        return f"Reusing the staged fork of '{INCIDENT_AGENT}' (stream {known.stream_id})"
    directory = journal_dir or Path(settings.VAR_DIR) / "journals"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{INCIDENT_AGENT}.jsonl"
    path.unlink(missing_ok=True)
    with JournalWriter(path, INCIDENT_AGENT) as journal:
        for step in range(5):
            journal.append("tool_execute", "success", details={"step": step})
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    token = issue_agent_token(INCIDENT_AGENT, label="demo incidents")
    _ship(token, events[:2])
    fork = {k: v for k, v in events[1].items() if k != "pii"}
    fork.update(action="tool_execute_rewritten", result="denied")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    _ship(token, [fork])  # refused as a fork: an incident, and a dead letter
    _ship(token, events[3:])  # seq 2 never arrives: 3 and 4 wait behind a gap
    said = (
        f"Staged a fork (seq 1) and a gap (seq 2) on stream {events[0]['stream']} of "
        f"'{INCIDENT_AGENT}': see Incidents and Dead letters"
    )
    officer = get_user_model().objects.filter(username=DEMO_USER).first()
    if officer is None:
        return said
    incident = IntegrityIncident.objects.get(stream__agent_id=INCIDENT_AGENT)
    acknowledge(
        officer,
        "fork",
        str(incident.pk),
        "Demo: the forking agent rewrote seq 1 on purpose. Original kept, candidate refused;"
        " no action needed.",
    )
    return f"{said}; '{DEMO_USER}' acknowledged the fork, the gap is open"

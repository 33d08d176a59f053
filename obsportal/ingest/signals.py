"""Integrity news for the portal's own trail, which lives above ingest and integrity.

The trail (`obsportal.trail.receivers`) records each of these as an event of its
hash-chained stream, covered by checkpoints: deleting the incident row afterwards
leaves its trail event, and verification reports the incident as deleted.

- `integrity_incident(kind, detail)`: a fork offered at ingest (`kind="fork"`, with
  `stream`, `seq`, `stored_hash`, `offered_hash`), or a checkpoint signed after a
  predecessor went missing (`kind="checkpoint"`, with `checkpoint`, `reason`).
- `verification_requested(actor, target, detail)`: someone asked for a verification run
  ("verify now"); sent inside the transaction that stores the request, before it is queued,
  so a request the trail cannot record is not made.
- `agent_key_pinned(detail)`: an agent's head-signing key pinned to its credential on
  first use (`obsportal.ingest.heads.pin_detail`), in the admission transaction.
- `agent_key_retired(detail)`: an administrator retired a pinned key (with `by`, `reason`).
- `incident_acknowledged(actor, target, detail)`: someone put on record that they looked at
  an incident (`kind`, `fingerprint`, `summary`, `note`); sent inside the transaction that
  stores the acknowledgement, so one the trail cannot record is not made.
- `verification_finished(detail)`: a verification run's result (`run`, `status`,
  `streams_checked`, `streams_with_problems`, `events_checked`).
"""

from __future__ import annotations

from django.dispatch import Signal

integrity_incident = Signal()
incident_acknowledged = Signal()
verification_finished = Signal()
verification_requested = Signal()
agent_key_pinned = Signal()
agent_key_retired = Signal()

"""The states a stream list filters and counts by: ingestion's own status (ok, forked,
stalled, events waiting) and the newest verification, for every stream in a reader's scope."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from obsportal.accounts.permissions import visible_streams
from obsportal.ingest.models import (
    Stream,
)
from obsportal.integrity.keyset import Page
from obsportal.integrity.models import (
    VerificationRun,
)
from obsportal.integrity.reader_scope import InvalidFilter
from obsportal.integrity.selectors import streams_with_last_verification

# The runs that cover every stream; a verify-now run covers one.
FULL_RUN_TRIGGERS = ("schedule", "demo")

# The states a stream list filters by: ingestion's own status, and the newest verification.
STREAM_STATES: dict[str, tuple[str, Q]] = {
    "verified": (
        "verified by its newest run, ingestion sees nothing wrong",
        Q(last_verification_status="verified", status="ok", pending_count=0),
    ),
    "broken": (
        "a link does not verify, or its rows are gone",
        Q(status="broken") | Q(last_verification_status__in=["broken", "missing"]),
    ),
    "forked": (
        "a different event was offered at a stored seq",
        Q(status="forked") | Q(last_verification_status="forked"),
    ),
    "waiting": ("events received ahead of a gap, waiting for it to fill", Q(pending_count__gt=0)),
    "stalled": ("a batch could not be admitted: the stream may not move", Q(status="stalled")),
    "incomplete": (
        "its newest run found events not yet admitted",
        Q(last_verification_status="incomplete"),
    ),
    "unverified": ("no verification run has covered it yet", Q(last_verification_status=None)),
}


def stream_list(user: Any, params: Mapping[str, Any]) -> QuerySet[Stream]:
    """Streams in the user's scope with their newest verification, filtered by `state`
    (one of STREAM_STATES) and `agent_id`, in id order."""
    streams = visible_streams(streams_with_last_verification(), user)
    state = params.get("state") or ""
    if state:
        if state not in STREAM_STATES:
            raise InvalidFilter({"state": f"one of {', '.join(STREAM_STATES)}"})
        streams = streams.filter(STREAM_STATES[state][1])
    if agent := params.get("agent_id"):
        streams = streams.filter(agent_id=agent)
    return streams


# The same states as STREAM_STATES, over (status, pending_count, newest verification status).
_STATE_TESTS = {
    "verified": lambda st, pending, v: v == "verified" and st == "ok" and pending == 0,
    "broken": lambda st, pending, v: st == "broken" or v in ("broken", "missing"),
    "forked": lambda st, pending, v: st == "forked" or v == "forked",
    "waiting": lambda st, pending, v: pending > 0,
    "stalled": lambda st, pending, v: st == "stalled",
    "incomplete": lambda st, pending, v: v == "incomplete",
    "unverified": lambda st, pending, v: v is None,
}


# Each stream's newest verification status, for every stream in a scope, in one pass: the
# newest full run's result (one scan of its rows) unless a later run (verify now) has one.
# Plain SQL that SQLite runs too (the embedded demo): no DISTINCT ON.
_STREAM_STATES_SQL = """
    WITH full_run AS (
        SELECT stream_id, status FROM integrity_streamverification WHERE run_id = %s
    ), later AS (
        SELECT stream_id, status FROM integrity_streamverification WHERE id IN (
            SELECT max(id) FROM integrity_streamverification WHERE run_id > %s
            GROUP BY stream_id
        )
    )
    SELECT s.id, s.status, s.pending_count, COALESCE(l.status, f.status)
    FROM ingest_stream s
    LEFT JOIN full_run f ON f.stream_id = s.id
    LEFT JOIN later l ON l.stream_id = s.id
    WHERE s.id IN ({scope})
    ORDER BY s.id
"""


def stream_states(user: Any) -> list[tuple[str, str, int, str | None]]:
    """(id, ingest status, events waiting, newest verification status) of every stream in
    the user's scope, in id order."""
    from django.db import connection

    full = (
        VerificationRun.objects.filter(trigger__in=FULL_RUN_TRIGGERS)
        .exclude(status="running")
        .values_list("id", flat=True)
        .first()
    )
    scope_sql, scope_params = (
        visible_streams(Stream.objects.all(), user).order_by().values("id").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _STREAM_STATES_SQL.format(scope=scope_sql),
            [full or 0, full or 0, *scope_params],
        )
        return cursor.fetchall()


def stream_state_counts(user: Any, states: list | None = None) -> dict[str, int]:
    """How many of the user's streams are in each state (each distinct combination of the
    three facts is tested once: there are a handful, however many streams)."""
    rows = states if states is not None else stream_states(user)
    combos = Counter((status, pending > 0, newest) for _, status, pending, newest in rows)
    counts = dict.fromkeys(["total", *STREAM_STATES], 0)
    for (status, waiting, newest), n in combos.items():
        counts["total"] += n
        for name, test in _STATE_TESTS.items():
            if test(status, int(waiting), newest):
                counts[name] += n
    return counts


def stream_page(
    user: Any, params: Mapping[str, Any], size: int, states: list | None = None
) -> Page:
    """A page of the streams list (`state`, `agent_id`, `after`/`before` by id), filtered
    over stream_states and then read with their newest verification."""
    state = params.get("state") or ""
    if state and state not in STREAM_STATES:
        raise InvalidFilter({"state": f"one of {', '.join(STREAM_STATES)}"})
    rows = states if states is not None else stream_states(user)
    if state:
        test, verdicts = _STATE_TESTS[state], {}
        ids = []
        for stream_id, status, pending, newest in rows:
            key = (status, pending > 0, newest)
            if key not in verdicts:
                verdicts[key] = test(status, int(pending > 0), newest)
            if verdicts[key]:
                ids.append(stream_id)
    else:
        ids = [row[0] for row in rows]
    if agent := params.get("agent_id"):
        of_agent = set(Stream.objects.filter(agent_id=agent).values_list("id", flat=True))
        ids = [i for i in ids if i in of_agent]
    after, before = params.get("after"), params.get("before")
    if before:
        earlier = [i for i in ids if i < before]
        chosen, more_before, more_after = earlier[-size:], len(earlier) > size, True
    else:
        later = [i for i in ids if i > after] if after else ids
        chosen, more_before, more_after = later[:size], bool(after), len(later) > size
    found = {s.id: s for s in streams_with_last_verification().filter(id__in=chosen)}
    shown = [found[i] for i in chosen if i in found]
    return Page(
        shown,
        after=shown[-1].id if shown and more_after else None,
        before=shown[0].id if shown and more_before else None,
    )

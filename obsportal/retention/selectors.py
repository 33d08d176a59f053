"""What retention would remove: the policies covering an event, and per stream the oldest
contiguous range that every rule lets go (the dry run, and what a plan freezes).

An event may go when the longest policy covering it (policies are ordered by period,
longest first, so the first match decides) has expired for it at `as_of`, and no
active hold covers it. A stream is cut at its start only: its prunable range ends
below the first event that may not go, whatever follows.

Everything is computed in SQL over the (stream, seq) index, a few aggregate queries a
stream, so a dry run over millions of events holds no row in memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from obsportal.ingest.envelope import format_ts
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.integrity.anchors import pruned_through
from obsportal.integrity.models import PruneAnchor
from obsportal.retention.holds import HoldRef, active_holds, events_have_subject_key
from obsportal.retention.models import LegalHold, RetentionPolicy
from obsportal.retention.patterns import pattern_sql

TABLE = AuditEvent._meta.db_table


def active_policies() -> list[RetentionPolicy]:
    """Policies in force, longest period first: the first that covers an event decides."""
    return list(
        RetentionPolicy.objects.filter(status=RetentionPolicy.Status.ACTIVE).order_by(
            "-keep_days", "name"
        )
    )


def policy_covers(policy: RetentionPolicy, event: AuditEvent | dict[str, Any]) -> bool:
    def get(name: str) -> str:
        value = event.get(name) if isinstance(event, dict) else getattr(event, name)
        return value or ""

    return (
        fnmatchcase(get("agent_id"), policy.agent_pattern)
        and fnmatchcase(get("action"), policy.action_pattern)
        and fnmatchcase(get("result"), policy.result_pattern)
    )


def policies_covering(event: AuditEvent | dict[str, Any]) -> list[RetentionPolicy]:
    """The active policies covering one event, longest period first (the first one wins)."""
    return [p for p in active_policies() if policy_covers(p, event)]


def _policy_match(policy: RetentionPolicy, params: list[Any]) -> str:
    parts = [
        clause
        for clause in (
            pattern_sql("agent_id", policy.agent_pattern, params),
            pattern_sql("action", policy.action_pattern, params),
            pattern_sql("result", policy.result_pattern, params),
        )
        if clause
    ]
    return " AND ".join(parts) or "1 = 1"


@dataclass(frozen=True)
class Rules:
    """The policies and holds a dry run (or a run) applies, at one moment."""

    as_of: datetime
    policies: list[RetentionPolicy]
    holds: list[LegalHold]

    @classmethod
    def now(cls, as_of: datetime) -> Rules:
        return cls(as_of, active_policies(), active_holds())

    def cutoff(self, policy: RetentionPolicy) -> datetime:
        return self.as_of - timedelta(days=policy.keep_days)

    def expired_sql(self) -> tuple[str, list[Any]]:
        """True for an event whose deciding policy has expired at as_of."""
        if not self.policies:
            return "1 = 0", []
        params: list[Any] = []
        whens = []
        for policy in self.policies:
            match = _policy_match(policy, params)
            params.append(_when(self.cutoff(policy)))
            whens.append(f"WHEN {match} THEN (ts < %s)")
        return f"(CASE {' '.join(whens)} ELSE 1 = 0 END)", params

    def deciding_sql(self) -> tuple[str, list[Any]]:
        """The name of the policy deciding an event (NULL: none covers it)."""
        if not self.policies:
            return "NULL", []
        params: list[Any] = []
        whens = []
        for policy in self.policies:
            match = _policy_match(policy, params)
            params.append(policy.name)
            whens.append(f"WHEN {match} THEN %s")
        return f"(CASE {' '.join(whens)} END)", params

    def holds_for(self, stream_id: str, agent_id: str) -> list[LegalHold]:
        return [
            h
            for h in self.holds
            if (not h.streams or stream_id in h.streams) and (not h.agents or agent_id in h.agents)
        ]


def _when(value: datetime) -> Any:
    """A datetime as the database compares it with stored `ts` (SQLite keeps text)."""
    return connection.ops.adapt_datetimefield_value(value)


def hold_sql(hold: LegalHold) -> tuple[str, list[Any]]:
    """The events `hold` covers, as an SQL condition (holds.hold_q's twin)."""
    parts, params = [], []

    def within(column: str, values: list[str]) -> None:
        parts.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
        params.extend(values)

    if hold.agents:
        within("agent_id", hold.agents)
    if hold.user_ids:
        within("user_id", hold.user_ids)
    if hold.streams:
        within("stream_id", hold.streams)
    if hold.subject_keys and events_have_subject_key():
        within("subject_key", [key.lower() for key in hold.subject_keys])
    if hold.ts_from is not None:
        parts.append("ts >= %s")
        params.append(_when(hold.ts_from))
    if hold.ts_to is not None:
        parts.append("ts <= %s")
        params.append(_when(hold.ts_to))
    return "(" + (" AND ".join(parts) or "1 = 1") + ")", params


def held_sql(holds: list[LegalHold]) -> tuple[str, list[Any]]:
    """The events any of `holds` covers (none: no event), as an SQL condition."""
    if not holds:
        return "1 = 0", []
    parts, params = [], []
    for hold in holds:
        condition, hold_params = hold_sql(hold)
        parts.append(condition)
        params.extend(hold_params)
    return "(" + " OR ".join(parts) + ")", params


@dataclass
class StreamRange:
    """What may go from one stream: seq first..last (empty when last < first)."""

    stream: str
    agent_id: str
    first_seq: int
    last_seq: int
    last_hash: str = ""
    count: int = 0
    oldest: str | None = None
    newest: str | None = None
    policies: dict[str, int] = field(default_factory=dict)
    # Why the range ends where it does: the first seq kept and the reason.
    stopped_at: int | None = None
    stop_reason: str = ""
    # Holds that keep events which would otherwise go: {"hold", "name", "reason", "events",
    # "first_seq"}.
    held: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.last_seq < self.first_seq

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one(sql: str, params: list[Any]) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _all(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ts(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return format_ts(value)


def stream_range(
    rules: Rules,
    stream_id: str,
    agent_id: str,
    *,
    upto: int | None = None,
    breakdown: bool = True,
) -> StreamRange:
    """The oldest contiguous range of one stream that `rules` let go (no further than
    seq `upto`); `breakdown=False` skips the per-policy counts and the oldest and newest
    event (a run counts each chunk as it prunes it)."""
    start = pruned_through(stream_id) + 1
    expired, expired_params = rules.expired_sql()
    where = "stream_id = %s AND seq >= %s"
    where_params: list[Any] = [stream_id, start]
    if upto is not None:
        where += " AND seq <= %s"
        where_params.append(upto)
    [stop] = _one(
        f"SELECT min(seq) FROM {TABLE} WHERE {where} AND NOT {expired}",
        [*where_params, *expired_params],
    )
    reason = "younger than its policy's period, or covered by no policy" if stop is not None else ""
    held: list[dict[str, Any]] = []
    holds = rules.holds_for(stream_id, agent_id)
    held_first: tuple[int, HoldRef] | None = None
    for hold in holds:
        condition, hold_params = hold_sql(hold)
        bound = "" if stop is None else " AND seq < %s"
        bound_params = [] if stop is None else [stop]
        first, count = _one(
            f"SELECT min(seq), count(*) FROM {TABLE} WHERE {where}{bound} AND {expired} "
            f"AND {condition}",
            [*where_params, *bound_params, *expired_params, *hold_params],
        )
        if count:
            held.append(
                {**HoldRef.of(hold).as_dict(), "hold": hold.pk, "first_seq": first, "events": count}
            )
            if held_first is None or first < held_first[0]:
                held_first = (first, HoldRef.of(hold))
    if held_first is not None:
        stop = held_first[0]
        reason = f"held by legal hold {held_first[1].id} ({held_first[1].name})"
    if agent_id == settings.OBSPORTAL_TRAIL_AGENT_ID:
        # The trail's record of an agent key's pin is evidence verification still reads
        # (a pinned key without its trail record is a forged pin): it is never pruned.
        bound = "" if stop is None else " AND seq < %s"
        [pin] = _one(
            f"SELECT min(seq) FROM {TABLE} WHERE {where}{bound} AND action = %s",
            [*where_params, *([] if stop is None else [stop]), "agent_key.pin"],
        )
        if pin is not None:
            stop, reason = (
                pin,
                "keeps the trail's record of an agent key pin (verification reads it)",
            )
    if stop is None:
        [last] = _one(f"SELECT max(seq) FROM {TABLE} WHERE {where}", where_params)
        last = start - 1 if last is None else last
    else:
        last = stop - 1
    result = StreamRange(
        stream_id, agent_id, start, last, stopped_at=stop, stop_reason=reason, held=held
    )
    if result.empty or not breakdown:
        return result
    deciding, deciding_params = rules.deciding_sql()
    rows = _all(
        f"SELECT {deciding}, count(*), min(ts), max(ts) FROM {TABLE} "
        f"WHERE stream_id = %s AND seq BETWEEN %s AND %s GROUP BY 1",
        [*deciding_params, stream_id, start, last],
    )
    result.policies = {name: count for name, count, _, _ in rows}
    result.count = sum(result.policies.values())
    result.oldest = _ts(min(r[2] for r in rows))
    result.newest = _ts(max(r[3] for r in rows))
    [result.last_hash] = _one(
        f"SELECT hash FROM {TABLE} WHERE stream_id = %s AND seq = %s", [stream_id, last]
    ) or [""]
    return result


def prunable_ranges(rules: Rules, streams: list[str] | None = None) -> list[StreamRange]:
    """Per stream (all, or the ones named), what `rules` let go."""
    rows = Stream.objects.filter(head_seq__gte=0).order_by("id")
    if streams is not None:
        rows = rows.filter(id__in=streams)
    return [stream_range(rules, s.id, s.agent_id) for s in rows.only("id", "agent_id")]


def dry_run_report(rules: Rules, ranges: list[StreamRange]) -> dict[str, Any]:
    """The dry run's output: per policy what would go, and what each hold keeps."""
    by_policy: dict[str, dict[str, Any]] = {
        p.name: {
            "policy": p.name,
            "framework": p.framework,
            "keep_days": p.keep_days,
            "cutoff": format_ts(rules.cutoff(p)),
            "events": 0,
            "streams": [],
            "oldest": None,
            "newest": None,
        }
        for p in rules.policies
    }
    holds: dict[int, dict[str, Any]] = {}
    for r in ranges:
        for name, count in r.policies.items():
            entry = by_policy[name]
            entry["events"] += count
            entry["streams"].append(
                {"stream": r.stream, "from": r.first_seq, "to": r.last_seq, "events": count}
            )
            if r.oldest and (entry["oldest"] is None or r.oldest < entry["oldest"]):
                entry["oldest"] = r.oldest
            if r.newest and (entry["newest"] is None or r.newest > entry["newest"]):
                entry["newest"] = r.newest
        for kept in r.held:
            entry = holds.setdefault(
                kept["hold"],
                {"hold": kept["hold"], "name": kept["name"], "events": 0, "streams": []},
            )
            entry["events"] += kept["events"]
            entry["streams"].append(
                {"stream": r.stream, "from_seq": kept["first_seq"], "events": kept["events"]}
            )
    return {
        "as_of": format_ts(rules.as_of),
        "events": sum(r.count for r in ranges),
        "streams": sum(1 for r in ranges if not r.empty),
        "policies": list(by_policy.values()),
        "holds": list(holds.values()),
        "ranges": [r.as_dict() for r in ranges if not r.empty or r.held],
    }


def removed_by_policy() -> dict[str, int]:
    """Events retention has removed, by the policy its anchors name (a chunk that several
    policies decided names them all, "a + b"): the signed anchors are the record."""
    rows = PruneAnchor.objects.order_by().values_list("policy").annotate(n=Sum("count"))
    return {policy: int(n) for policy, n in rows.values_list("policy", "n")}

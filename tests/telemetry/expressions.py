"""Every query the shipped dashboards and alert rules make, read from the shipped files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "compose" / "prometheus" / "rules").glob("*.yml"))
# Grafana's variables, as a dashboard showing the last few minutes would fill them.
PROMQL_VARIABLES = {
    "$__rate_interval": "20s",
    "$__interval": "20s",
    "$__range": "5m",
    "$agent": ".*",
}
THRESHOLD = re.compile(r"^(?P<signal>.+?)\s*>\s*(?P<threshold>[0-9.e+]+)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Query:
    where: str  # "dashboard title / panel title / refId" or "alert NAME"
    text: str


def panels(board: dict) -> list[dict]:
    found = []
    for panel in board.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels inside collapsed rows
    return found


def dashboard_queries(kind: str) -> list[Query]:
    """`kind` "promql" (Prometheus targets) or "sql" (PostgreSQL targets)."""
    queries = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in panels(board):
            for target in panel.get("targets", []):
                text = target.get("expr") if kind == "promql" else target.get("rawSql")
                if text:
                    where = f"{board['title']} / {panel['title']} / {target['refId']}"
                    queries.append(Query(where, text))
    return queries


def promql(text: str, agent: str | None = None) -> str:
    """The query as Grafana sends it; `agent` picks one agent in the $agent variable."""
    if agent is not None:
        text = text.replace('=~"$agent"', f'="{agent}"')
    for name, value in PROMQL_VARIABLES.items():
        text = text.replace(name, value)
    assert "$" not in text, f"an unknown Grafana variable is left in {text!r}"
    return text


def alert_rules() -> list[dict]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def alert_signals() -> list[Query]:
    """Each alert's expression without its threshold: the series it watches."""
    signals = []
    for rule in alert_rules():
        match = THRESHOLD.match(rule["expr"].strip())
        assert match, f"alert {rule['alert']}: expr is not '<signal> > <threshold>'"
        signals.append(Query(f"alert {rule['alert']}", match["signal"]))
    return signals

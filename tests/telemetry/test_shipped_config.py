"""The shipped Prometheus, Grafana and compose files: valid for their tools, consistent."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.db import connection

from tests.factories import journal_events
from tests.telemetry.expressions import DASHBOARDS, ROOT, alert_rules, dashboard_queries

COMPOSE = ROOT / "compose"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (.ci/run installs it)")
    return path


def test_promtool_accepts_the_shipped_config_and_rules(tmp_path):
    # promtool also checks that the scrape token file exists: the shipped config, with
    # that one path pointing at a token file here and its rules at the shipped ones.
    shipped = COMPOSE / "prometheus" / "prometheus.yml"
    text = shipped.read_text()
    token_path = yaml.safe_load(text)["scrape_configs"][0]["authorization"]["credentials_file"]
    (tmp_path / "metrics-token").write_text("a-scrape-token\n")
    (tmp_path / "rules").symlink_to(COMPOSE / "prometheus" / "rules")
    (tmp_path / "prometheus.yml").write_text(
        text.replace(token_path, str(tmp_path / "metrics-token"))
    )
    config = subprocess.run(
        [tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout
    rules = subprocess.run(
        [
            tool("promtool"),
            "check",
            "rules",
            *map(str, (COMPOSE / "prometheus" / "rules").glob("*.yml")),
        ],
        capture_output=True,
        text=True,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_alert_rules_cover_the_four_conditions():
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert "agent_step_duration_seconds_bucket" in exprs["AgentStepLatencyHigh"]
    assert re.search(r">\s*5\s*$", exprs["AgentStepLatencyHigh"])
    assert 'decision="denied"' in exprs["PermissionDeniedSpike"]
    assert "obsportal_chain_breaks_total" in exprs["ChainBreakDetected"]
    assert "obsportal_checkpoint_age_seconds" in exprs["CheckpointStale"]


def compose_config(*extra: str) -> dict:
    result = subprocess.run(
        [tool("docker-compose"), *extra, "-f", str(COMPOSE / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_has_the_whole_stack():
    stack = compose_config("--env-file", str(COMPOSE / ".env.example"))
    services = stack["services"]
    assert set(services) == {
        "postgres", "redis", "web", "worker", "beat", "prometheus", "grafana", "jaeger",
        "node-exporter",
    }  # fmt: skip
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert set(stack["volumes"]) >= {"pgdata", "redisdata", "promdata", "grafanadata", "portaldata"}
    jaeger_ports = {int(p["target"]) for p in services["jaeger"]["ports"]}
    assert {4317, 4318, 16686} <= jaeger_ports
    assert "gunicorn -c compose/gunicorn.conf.py" in services["web"]["command"][-1]
    assert services["worker"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    # The worker signs checkpoints with the key the web service created: one shared volume.
    for name in ("web", "worker", "beat"):
        assert "portaldata:/var/lib/obsportal:rw" in services[name]["volumes"], name
    # .env.example's values reach the services.
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "change-me-postgres"
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "change-me-grafana"
    mounts = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= mounts
    # Without a .env the defaults make a runnable local stack.
    assert compose_config()["services"]["web"]["environment"]["DATABASE_URL"].startswith(
        "postgres://obsportal:"
    )


def test_prometheus_scrapes_the_compose_services():
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["portal"] == ["web:8000"]
    assert targets["worker"] == ["worker:9808"]
    assert targets["node"] == ["node-exporter:9100"]
    assert "agents" in targets
    stack = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    assert stack["services"]["worker"]["environment"]["OBSPORTAL_WORKER_METRICS_PORT"] == "9808"
    assert "web" in stack["x-obsportal"]["environment"]["DJANGO_ALLOWED_HOSTS"]


def test_dashboards_use_only_provisioned_datasources():
    provisioned = yaml.safe_load(
        (ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
    )
    uids = {ds["uid"]: ds["type"] for ds in provisioned["datasources"]}
    assert set(uids.values()) == {"prometheus", "jaeger", "grafana-postgresql-datasource"}
    titles = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        titles.add(board["title"])
        for panel in board["panels"]:
            for target in [panel, *panel["targets"]]:
                ds = target["datasource"]
                assert uids.get(ds["uid"]) == ds["type"], f"{board['title']} / {panel['title']}"
    assert titles == {"Agent monitoring", "Performance", "Audit & compliance"}


def grafana_sql(text: str) -> str:
    """Expand the Grafana PostgreSQL macros the panels use, as Grafana does for the last hour."""
    text = re.sub(
        r"\$__timeGroupAlias\((\w+), '(\d+)m'\)",
        lambda m: (
            f"to_timestamp(floor(extract(epoch from {m[1]}) / {int(m[2]) * 60}) "
            f"* {int(m[2]) * 60}) AS time"
        ),
        text,
    )
    now = datetime.now(UTC)
    window = f"BETWEEN '{(now - timedelta(hours=1)).isoformat()}' AND '{now.isoformat()}'"
    text = re.sub(r"\$__timeFilter\((\w+)\)", lambda m: f"{m[1]} {window}", text)
    assert "$" not in text, text
    return text


@pytest.mark.django_db
def test_postgresql_panels_run_against_the_database(tmp_path):
    from obsportal.ingest.services import admit_batch
    from tests.factories import agent_credential

    token = agent_credential("sql-agent")
    events = journal_events(tmp_path, "sql-agent", count=5, result="denied", user_id="bob")
    assert admit_batch({"token": token, "events": events}).admitted == 5

    queries = dashboard_queries("sql")
    assert {q.where.split(" / ")[1] for q in queries} == {
        "Event volume by action and result",
        "Top users",
        "Top agents",
        "Critical actions (24 h)",
        "Active portal users",
        "PostgreSQL cache hit rate",
    }
    for q in queries:
        with connection.cursor() as cursor:
            cursor.execute(grafana_sql(q.text))
            columns = [c.name for c in cursor.description]
            rows = cursor.fetchall()
        assert rows, f"{q.where} returned no rows"
        if q.where.endswith("Top users / A"):
            assert columns == ["user", "events", "denied or failed"]
            assert rows == [("bob", 5, 5)]
        if q.where.endswith("Top agents / A"):
            assert rows[0][:3] == ("sql-agent", 5, 5)
        if "Critical actions" in q.where:
            assert rows == [(5,)]  # the five denied events, admitted just now
        if "Active portal users" in q.where:
            assert columns == ["active users"] and rows == [(0,)]  # nobody used the portal
        if "cache hit rate" in q.where:
            assert 0 < rows[0][0] <= 1
        if "Event volume" in q.where:
            assert columns == ["time", "metric", "value"]
            assert sum(row[2] for row in rows) == 5

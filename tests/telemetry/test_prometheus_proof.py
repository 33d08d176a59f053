"""The proof: a real Prometheus scrapes the portal, a Celery worker, an agent and node
exporter; every dashboard query and every alert signal must return data."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.factories import journal_events
from tests.telemetry.conftest import (
    free_port,
    portal_env,
    post_batch,
    start_worker,
    wait_http,
    wait_worker_ready,
)
from tests.telemetry.expressions import RULE_FILES, alert_signals, dashboard_queries, promql

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACTIVITY_SECONDS = 40
# Metrics whose producer is not in this checkout: the query must still be valid
# PromQL, and it is named in the test output. Each entry says what feeds it.
PRODUCED_ELSEWHERE = {
    "obsportal_checkpoint_age_seconds": "the integrity app's latest checkpoint",
}


def query(prometheus: str, expr: str) -> list:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def unproduced_metrics() -> dict[str, str]:
    from obsportal.integrity.collectors import latest_checkpoint_time

    missing = {}
    if latest_checkpoint_time() is None:
        missing["obsportal_checkpoint_age_seconds"] = PRODUCED_ELSEWHERE[
            "obsportal_checkpoint_age_seconds"
        ]
    return missing


def retention_and_report_activity(tmp_path: Path, settings) -> dict:
    """What the retention and compliance panels read: a real run that removes an agent's
    events (its plan on a clock 400 days ahead), and a SOC 2 report with an exception (a role
    change its own subject made around the portal, recorded on the trail)."""
    from django.utils import timezone

    from obsportal.accounts.services import issue_agent_token
    from obsportal.compliance.reports.build import build_report
    from obsportal.compliance.reports.services import request_report
    from obsportal.ingest.services import admit_batch
    from obsportal.retention.services import runs
    from obsportal.trail.services import record_change
    from tests.retention.helpers import active_policy, approved_plan, officers

    settings.OBSPORTAL_REPORT_DIR = tmp_path / "reports"
    settings.OBSPORTAL_REPORT_PDF = False
    since = timezone.now()
    events = journal_events(tmp_path, "retention-agent", count=5, name="retention.jsonl")
    token = issue_agent_token("retention-agent")
    assert admit_batch({"token": token, "events": events}).admitted == 5
    alice, bob = officers()
    active_policy(alice, bob, name="retention-agent 30 days", agent_pattern="retention-agent")
    assert runs.run_plan(approved_plan(alice, bob)).pruned == 5
    record_change(alice, "role.assign", alice, {"role": "administrator", "previous_role": None})
    run = request_report("soc2", since, timezone.now(), alice, seed="proof", queue=False)
    run = build_report(run.pk)
    assert run.status == "done" and run.sections_with_exceptions >= 1, run.error
    return {"removed": 5, "soc2_exceptions": run.sections_with_exceptions}


def prometheus_config(path: Path, targets: dict[str, str], portal_token_file: Path) -> None:
    """The scrape jobs of the shipped config, the portal's with its bearer token file."""
    jobs = [{"job_name": job, "static_configs": [{"targets": [t]}]} for job, t in targets.items()]
    for job in jobs:
        if job["job_name"] == "portal":
            job["authorization"] = {"type": "Bearer", "credentials_file": str(portal_token_file)}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in RULE_FILES],
        "scrape_configs": jobs,
    }
    path.write_text(yaml.safe_dump(config))


def test_every_dashboard_query_and_alert_signal_returns_data(
    processes, own_redis, test_database_url, tmp_path, signing_key, settings
):
    from obsportal.accounts.services import issue_agent_token
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.verification import verify_streams

    for binary in ("prometheus", "prometheus-node-exporter"):
        if not shutil.which(binary):
            pytest.fail(f"{binary} is not installed (.ci/run installs it)")
    agent_token = issue_agent_token("proof-agent")
    http_token = issue_agent_token("http-agent")
    # Before the portal starts: its count of events past their policy is read once a minute.
    produced = retention_and_report_activity(tmp_path, settings)

    ports = {name: free_port() for name in ("web", "worker", "agent", "node", "prometheus")}
    scrape_token_file = tmp_path / "metrics-token"
    scrape_token_file.write_text("proof-scrape-token\n")
    web_env = portal_env(
        test_database_url,
        own_redis,
        OBSPORTAL_METRICS_TOKEN_FILE=str(scrape_token_file),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"),
        GUNICORN_BIND=f"127.0.0.1:{ports['web']}",
        WEB_CONCURRENCY="2",
    )
    web, web_log = processes.start(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py", "obsportal.wsgi"],
        web_env,
    )
    worker, worker_log = start_worker(
        processes,
        portal_env(
            test_database_url,
            own_redis,
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-worker"),
            OBSPORTAL_WORKER_METRICS_PORT=str(ports["worker"]),
            OBSPORTAL_WORKER_METRICS_ADDR="127.0.0.1",
        ),
    )
    node, node_log = processes.start(
        "node-exporter",
        [
            "prometheus-node-exporter",
            f"--web.listen-address=127.0.0.1:{ports['node']}",
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.diskstats",
            "--collector.netdev",
        ],
    )
    wait_http(f"http://127.0.0.1:{ports['web']}/readyz", web, web_log)
    wait_worker_ready(worker_log, worker)
    wait_http(f"http://127.0.0.1:{ports['worker']}/metrics", worker, worker_log)
    wait_http(f"http://127.0.0.1:{ports['node']}/metrics", node, node_log)

    agent, agent_log = processes.start(
        "agent",
        [
            sys.executable,
            "-m",
            "tests.telemetry.sample_agent",
            "--agent-id",
            "proof-agent",
            "--journal",
            str(tmp_path / "agent.jsonl"),
            "--broker",
            own_redis,
            "--token",
            agent_token,
            "--metrics-port",
            str(ports["agent"]),
            "--seconds",
            str(ACTIVITY_SECONDS),
        ],
        portal_env(test_database_url, own_redis),
    )
    config = tmp_path / "prometheus.yml"
    prometheus_config(
        config,
        {
            "portal": f"127.0.0.1:{ports['web']}",
            "worker": f"127.0.0.1:{ports['worker']}",
            "agents": f"127.0.0.1:{ports['agent']}",
            "node": f"127.0.0.1:{ports['node']}",
        },
        scrape_token_file,
    )
    prom, prom_log = processes.start(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        ],
    )
    prometheus = f"http://127.0.0.1:{ports['prometheus']}"
    wait_http(f"{prometheus}/-/ready", prom, prom_log)
    wait_http(f"http://127.0.0.1:{ports['agent']}/metrics", agent, agent_log)

    # Activity on the HTTP edge: accepted, re-delivered, refused batches; portal pages.
    events = journal_events(tmp_path, "http-agent", count=6, name="http.jsonl", result="denied")
    portal = f"http://127.0.0.1:{ports['web']}"
    verdicts = [
        post_batch(portal, http_token, events[:4]),
        post_batch(portal, http_token, events),
        post_batch(portal, "agt_not-a-token", events),
    ]
    assert [v["status"] for v in verdicts] == ["accepted", "accepted", "rejected"]
    assert verdicts[1]["duplicates"] == 4
    for path in ("/healthz", "/readyz", "/accounts/login/"):
        urllib.request.urlopen(portal + path, timeout=10).close()
    # Prometheus scrapes the portal with its token; without it /metrics says no.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(portal + "/metrics", timeout=10)
    assert refused.value.code == 401
    # The beat jobs' services, run here: a signed checkpoint and a verification run.
    sign_checkpoint()
    assert verify_streams(trigger="test").status == "verified"

    queries = dashboard_queries("promql") + alert_signals()
    unproduced = unproduced_metrics()
    assert "obsportal_checkpoint_age_seconds" not in unproduced
    expected = [q for q in queries if not any(m in q.text for m in unproduced)]
    elsewhere = [q for q in queries if q not in expected]
    for metric in (
        "obsportal_retention_removed_total",
        "obsportal_retention_events_past_policy",
        "obsportal_report_sections_with_exceptions",
    ):
        assert any(metric in q.text for q in expected), f"no panel or alert reads {metric}"

    deadline = time.monotonic() + ACTIVITY_SECONDS + 15
    empty = expected
    while empty and time.monotonic() < deadline:
        time.sleep(2)
        empty = [q for q in empty if not query(prometheus, promql(q.text))]
    assert not empty, (
        "queries without data:\n"
        + "\n".join(f"  {q.where}: {q.text}" for q in empty)
        + f"\n\nworker log:\n{worker_log.read_text()[-3000:]}"
    )

    # With one agent picked in the dashboards' $agent variable, its panels still have data.
    one_agent = [q for q in expected if "$agent" in q.text]
    assert one_agent
    empty = [q for q in one_agent if not query(prometheus, promql(q.text, agent="proof-agent"))]
    assert not empty, "no data for agent proof-agent:\n" + "\n".join(q.where for q in empty)

    # The rules engine evaluates every shipped rule without error.
    with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=10) as response:
        groups = json.load(response)["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(alert_signals())
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    for q in elsewhere:
        query(prometheus, promql(q.text))  # valid PromQL, even while nothing feeds it
    if elsewhere:
        print("fed by producers not in this checkout:", unproduced, [q.where for q in elsewhere])

    agents = query(prometheus, "count by (agent_id) (agent_steps_total)")
    assert {r["metric"]["agent_id"] for r in agents} == {"proof-agent"}
    # The Grafana variable $agent lists agents from this label.
    with urllib.request.urlopen(
        f"{prometheus}/api/v1/label/agent_id/values?match[]=agent_steps_total", timeout=10
    ) as response:
        assert json.load(response)["data"] == ["proof-agent"]
    # Both worker processes' counters are summed: every event the agent shipped counts once.
    shipped = query(prometheus, 'sum(obsportal_ingest_events_total{agent_id="proof-agent"})')
    assert float(shipped[0]["value"][1]) >= 1
    http = query(
        prometheus, 'sum by (result) (obsportal_ingest_events_total{agent_id="http-agent"})'
    )
    assert [(r["metric"]["result"], r["value"][1]) for r in http] == [("denied", "6")]
    rejected = query(prometheus, "sum by (reason) (obsportal_ingest_rejected_total)")
    # A request without a live token is refused from its headers: one refusal, body unread.
    assert [(r["metric"]["reason"], r["value"][1]) for r in rejected] == [("bad_token", "1")]
    # The trail's completeness: the run verified every event stored when it ran.
    verified = float(query(prometheus, "sum(obsportal_events_verified)")[0]["value"][1])
    assert verified >= 1
    assert query(prometheus, "max(obsportal_verification_latest_verified)")[0]["value"][1] == "1"
    runs = query(prometheus, 'obsportal_verification_runs_total{outcome="verified"}')
    assert runs[0]["value"][1] == "1"
    assert float(query(prometheus, "obsportal_checkpoint_age_seconds")[0]["value"][1]) < 120
    # Retention: what the run removed, from its anchors; nothing left past its policy.
    removed = query(prometheus, "sum by (policy) (obsportal_retention_removed_total)")
    assert [(r["metric"]["policy"], float(r["value"][1])) for r in removed] == [
        ("retention-agent 30 days", produced["removed"])
    ]
    past = query(prometheus, "sum by (policy) (obsportal_retention_events_past_policy)")
    assert [(r["metric"]["policy"], r["value"][1]) for r in past] == [
        ("retention-agent 30 days", "0")
    ]
    # Compliance status: the latest SOC 2 run's sections with exceptions.
    status = query(prometheus, "obsportal_report_sections_with_exceptions")
    assert [(r["metric"]["framework"], float(r["value"][1])) for r in status] == [
        ("soc2", produced["soc2_exceptions"])
    ]

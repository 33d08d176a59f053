"""Each section's figures equal the REST API's answer to the same filter, on a world with
known answers (denials, a fork, a revoked credential, an erasure); the sample is seeded;
every attached file matches its SHA-256; the chain coverage shows 0 gaps."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timedelta

import orjson
import pytest
from rest_framework.test import APIClient

from obsportal.accounts.services import issue_api_token
from obsportal.compliance.reports.build import sample_indices, sample_size
from tests.compliance.reports.conftest import build

# Filters the events API takes; breakdown columns outside these are checked by their totals.
API_FILTERS = {"agent_id", "action", "result", "user_id", "resource", "stream"}


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    return client


def api_count(client: APIClient, url: str) -> int:
    seen = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        seen += len(page["results"])
        url = page["next"]
    return seen


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def api_listed_in_period(client: APIClient, url: str, field: str, since, until) -> int:
    found, next_url = 0, url
    while next_url:
        page = client.get(next_url).json()
        rows = page["results"] if isinstance(page, dict) else page
        found += sum(1 for r in rows if since <= _moment(r[field]) < until)
        next_url = page.get("next") if isinstance(page, dict) else None
    return found


def document(world) -> dict:
    return orjson.loads((world.folder / "report.json").read_bytes())


def population(doc: dict, section: str, key: str) -> dict:
    [sec] = [s for s in doc["sections"] if s["key"] == section]
    [pop] = [p for p in sec["populations"] if p["key"] == key]
    return pop


def test_soc2_figures_are_the_known_answers(built):
    doc = document(built)
    expected = {
        ("access", "credentials_at_end"): 2,  # agent-a's, agent-c's: agent-b's was revoked
        ("access", "credential_issued"): 2,
        ("access", "credential_revoked"): 1,
        ("access", "role_changes"): 2,
        ("access", "self_approved"): 1,  # carol gave herself a role
        ("external_access", "failed_logins"): 1,
        ("external_access", "refused_credentials"): 1,  # the batch with the revoked token
        ("external_access", "denied_actions"): 2,
        ("incidents", "forks"): 1,
        ("incidents", "incident_events"): 1,
        ("monitoring", "verification_runs"): 1,
        ("monitoring", "checkpoints"): 1,
        ("changes", "agent_model_change"): 1,
    }
    got = {key: population(doc, *key)["count"] for key in expected}
    assert got == expected
    # agent-a's stream is forked; agent-c's pruned start is "broken" until verification reads
    # retention's anchors (the retention branch), then verified.
    problems = population(doc, "monitoring", "chain_problems")
    assert problems["count"] in (1, 2)
    forked = [r for r in problems["sample"]["rows"] if r[3] == "forked"]
    assert len(forked) == 1
    statuses = {s["key"]: s["status"] for s in doc["sections"]}
    assert statuses["access"] == "exceptions" and statuses["incidents"] == "exceptions"
    [models] = [
        b for s in doc["sections"] for b in s["breakdowns"] if b["key"] == "models_observed"
    ]
    assert models["rows"] == [["agent-a", "m-1", 1], ["agent-a", "m-2", 1], ["agent-b", None, 1]]


@pytest.mark.parametrize("framework", ["soc2", "gdpr", "hipaa", "ai_act"])
def test_every_section_equals_the_rest_api_for_the_same_filter(world, framework):
    doc = document(build(world, framework))
    client = _client(world.admin)
    since, until = (
        _moment(doc["header"]["period"]["since"]),
        _moment(doc["header"]["period"]["until"]),
    )
    checked = 0
    for section in doc["sections"]:
        for pop in section["populations"]:
            api = pop["query"]["api"]
            if api is None:
                continue
            if api.startswith("/api/v1/events/"):
                answer = api_count(client, api)
                if pop["query"]["predicate"]:  # a narrowing the API cannot express: a subset
                    assert pop["count"] <= answer, pop["key"]
                else:
                    assert pop["count"] == answer, (section["key"], pop["key"], api)
            elif pop["key"] == "chain_problems":
                runs = client.get(api).json()["results"]
                in_period = [r for r in runs if since <= _moment(r["started_at"]) < until]
                assert pop["count"] == sum(r["streams_with_problems"] for r in in_period)
            else:
                field = {"verification_runs": "started_at", "checkpoints": "issued_at"}.get(
                    pop["key"], "detected_at"
                )
                assert pop["count"] == api_listed_in_period(client, api, field, since, until)
            checked += 1
        for breakdown in section["breakdowns"]:
            base = breakdown["query"]["params"]
            columns = list(breakdown["columns"][:-1])
            totals: dict[tuple, int] = {}
            for row in breakdown["rows"]:
                params = dict(base)
                usable = {c: v for c, v in zip(columns, row[:-1], strict=True) if c in API_FILTERS}
                if None in usable.values():
                    continue  # the API has no "is null" filter
                params.update(usable)
                key = tuple(sorted(usable.items()))
                totals[key] = totals.get(key, 0) + row[-1]
            for key, total in totals.items():
                query = "&".join(f"{k}={v}" for k, v in {**base, **dict(key)}.items())
                assert api_count(client, f"/api/v1/events/?{query}") == total, (
                    breakdown["key"],
                    key,
                )
                checked += 1
    assert checked > 0


def test_chain_coverage_has_no_gaps_and_names_the_covering_checkpoint(built):
    coverage = document(built)["coverage"]
    streams = {s["agent_id"]: s for s in coverage["streams"]}
    a, b = streams["agent-a"], streams["agent-b"]
    assert (a["first_seq"], a["last_seq"], a["events"], a["gaps"]) == (0, 9, 10, 0)
    assert (b["first_seq"], b["last_seq"], b["gaps"]) == (0, 2, 0)
    assert (
        b["checkpoint"]["head_seq"] >= 2
        and str(b["checkpoint"]["number"]) in coverage["checkpoint_notes"]
    )
    assert b["verification"]["status"] == "verified" and b["ok"]
    # agent-a's stream is forked, and the erased e-mail shows as erased, not as tampering.
    assert a["verification"]["status"] == "forked" and not a["ok"]
    assert a["verification"]["erased"] == 1
    assert coverage["streams_not_ok"] >= 1


def test_a_pruned_range_is_shown_not_counted_as_a_gap_and_retention_is_stated(world):
    doc = document(build(world, "gdpr"))
    c = next(s for s in doc["coverage"]["streams"] if s["agent_id"] == "agent-c")
    assert (c["first_seq"], c["last_seq"], c["events"], c["gaps"]) == (2, 4, 3, 0)
    assert [(p["from"], p["to"], p["policy"]) for p in c["pruned"]] == [(0, 1, "agent-c-0d")]
    # Verification reads the anchors once the retention branch's walk lands; until then the
    # pruned start is a break, and the report says the stream is not ok.
    assert c["verification"]["status"] in ("verified", "broken")
    assert c["ok"] == (c["verification"]["status"] == "verified")
    [retention] = [s for s in doc["sections"] if s["key"] == "retention"]
    [status] = [st for st in retention["statements"] if st["key"] == "retention_status"]
    # keep 0 days: agent-c's 3 remaining events are past their time, 1 of them held.
    assert status["rows"] == [
        ["agent-c-0d", "gdpr", "agent agent-c, action *, result *", 0, "no", "no", 2, 1]
    ]
    assert status["status"] == "exceptions" and retention["status"] == "exceptions"


def retention_status(doc: dict) -> dict:
    [retention] = [s for s in doc["sections"] if s["key"] == "retention"]
    [status] = [st for st in retention["statements"] if st["key"] == "retention_status"]
    return status


def test_the_floor_columns_and_past_counts_follow_retentions_own_configuration(world, settings):
    from obsportal.retention.models import RetentionPolicy

    settings.OBSPORTAL_RETENTION_FLOORS = {
        "gdpr": {"days": 0, "source": "a test's floor"},
        "eu_ai_act": {"days": 400, "source": "a longer AI Act floor"},
    }
    # A longer policy covering agent-c's tool calls decides them (the longest wins): nothing
    # is past either policy, and a policy meeting a floor says so.
    RetentionPolicy.objects.create(
        name="agent-c-long", framework="gdpr", agent_pattern="agent-?", action_pattern="tool_*",
        keep_days=365, status="active",
    )  # fmt: skip
    status = retention_status(document(build(world, "ai_act")))
    assert status["columns"][4:6] == ["GDPR floor 0 days", "EU AI Act floor 400 days"]
    assert status["rows"] == [
        ["agent-c-long", "gdpr", "agent agent-?, action tool_*, result *", 365, "yes", "no", 0, 0],
        ["agent-c-0d", "gdpr", "agent agent-c, action *, result *", 0, "yes", "no", 0, 0],
    ]
    assert status["status"] == "ok"


def test_the_same_seed_draws_the_same_sample(world):
    first = document(build(world, "soc2", seed="s-42"))
    second = document(build(world, "soc2", seed="s-42"))
    other = document(build(world, "soc2", seed="s-43"))

    def samples(doc):
        return {
            (s["key"], p["key"]): [r[0] for r in p["sample"]["rows"]]
            for s in doc["sections"]
            for p in s["populations"]
        }

    assert samples(first) == samples(second)
    assert first["header"]["sample"]["seed"] == "s-42"
    assert sample_indices("s-42", "x/y", 200) == sample_indices("s-42", "x/y", 200)
    assert sample_indices("s-42", "x/y", 200) != sample_indices("s-43", "x/y", 200)
    assert len(sample_indices("s", "k", 200)) == sample_size(200) == 20
    assert samples(other).keys() == samples(first).keys()


def test_every_attached_file_matches_its_digest_and_rows(built):
    doc = document(built)
    for entry in doc["files"]:
        data = (built.folder / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        with (built.folder / entry["name"]).open(newline="") as handle:
            assert sum(1 for _ in csv.reader(handle)) - 1 == entry["rows"]
    assert set(built.run.files) >= {"report.json", "report.html"}
    assert (
        built.run.report_sha256
        == hashlib.sha256((built.folder / "report.json").read_bytes()).hexdigest()
    )


def test_header_states_period_bounds_scope_generator_and_query(built):
    doc = document(built)
    header = doc["header"]
    assert header["period"]["bounds"].startswith("UTC; since included, until excluded")
    assert header["generated_by"] == "alice" and header["scope"] == "everything"
    assert "SOC 2 CC6.2" in header["controls"] and "HIPAA 164.312(b)" in header["controls"]
    pop = population(doc, "external_access", "denied_actions")
    assert pop["query"]["params"]["result"] == "denied"
    assert "SELECT" in pop["query"]["sql"] and pop["query"]["api"].startswith(
        "/api/v1/events/?result=denied"
    )


@pytest.mark.parametrize("framework", ["soc2", "gdpr", "hipaa", "ai_act"])
def test_a_period_before_any_activity_builds_and_says_its_empty_queries(world, framework):
    # A scheduled run's first period (last month) often predates every stream: a population
    # whose filter matched nothing by construction had no SQL and failed the whole run.
    from obsportal.compliance.reports.build import build_report, report_dir
    from obsportal.compliance.reports.services import request_report

    until = world.since - timedelta(days=30)
    run = request_report(framework, until - timedelta(days=30), until, world.admin, queue=False)
    run = build_report(run.pk)
    assert run.status == "done", run.error
    doc = orjson.loads((report_dir(run) / "report.json").read_bytes())
    populations = [p for s in doc["sections"] for p in s["populations"]]
    empty_by_construction = [p for p in populations if p["query"]["sql"].startswith("(no SQL")]
    assert empty_by_construction and all(p["count"] == 0 for p in empty_by_construction)

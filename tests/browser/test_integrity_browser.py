"""The integrity pages in real Chromium: a fork made by the test through HTTP ingest, a gap,
a checkpoint note that verifies with the key the page shows, dead letters, and "verify now"
run by a real Celery worker. Each page is photographed at desktop and phone width
(to a directory of your choice with INTEGRITY_SCREENSHOTS=/path)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agents_sdk.offline.checkpoint import parse_verifier_key, verify_checkpoint
from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.verification import verify_streams
from tests.browser.test_roles_browser import sign_in
from tests.factories import agent_credential, journal_events
from tests.support.incidents import rewritten
from tests.support.people import person

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def post(base: str, events: list[dict], token: str) -> tuple[int, dict]:
    """POST a batch to the live portal's HTTP ingest, as an agent's shipper does."""
    request = urllib.request.Request(
        f"{base}/api/v1/ingest",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture
def scene(live_server, signing_key, tmp_path, django_user_model):
    """Through the live portal's ingest: agent-a forked at seq 1, agent-b waiting on a gap,
    one batch refused for a bad hash; then a checkpoint and a verification run."""
    base = live_server.url
    made = {"base": base}
    for agent in ("agent-a", "agent-b"):
        made[f"{agent}-token"] = agent_credential(agent)
        made[agent] = journal_events(tmp_path, agent, count=4, name=f"{agent}.jsonl")
    a, b = made["agent-a"], made["agent-b"]
    assert post(base, a, made["agent-a-token"])[0] == 200
    made["fork"] = rewritten(a[1], action="rewritten", result="denied")
    status, verdict = post(base, [made["fork"]], made["agent-a-token"])
    assert (status, verdict["reason_code"]) == (409, "fork")
    assert post(base, b[:1], made["agent-b-token"])[0] == 200
    assert post(base, b[2:], made["agent-b-token"])[1]["pending"] == 2
    bad = dict(b[1], action="tampered")
    assert post(base, [bad], made["agent-b-token"])[1]["reason_code"] == "bad_hash"
    made["checkpoint"] = sign_checkpoint()
    verify_streams()
    for name, role, scope in (
        ("officer", "compliance_officer", {}),
        ("auditor", "auditor", {}),
        ("scoped", "auditor", {"scope_agents": ["agent-a"]}),
    ):
        person(django_user_model, name, role, **scope)
    return made


def shots_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("INTEGRITY_SCREENSHOTS") or tmp_path / "shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def photograph(page, directory: Path, name: str) -> None:
    """The page at desktop and at phone width; at phone width nothing may widen the page."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(directory / f"{name}-{size}.png"), full_page=True)
        if size == "phone":
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            assert overflow <= 1, f"{name} is {overflow}px wider than a phone"
    page.set_viewport_size({"width": 1280, "height": 800})


def test_an_officer_reads_every_integrity_page(page, scene, tmp_path):
    base, shots = scene["base"], shots_dir(tmp_path)
    stream_a, stream_b = scene["agent-a"][0]["stream"], scene["agent-b"][0]["stream"]
    sign_in(page, base, "officer")

    page.click("header nav a:text-is('Streams')")
    expect(page.locator("#streams tbody tr")).to_have_count(3)  # a, b and the portal trail
    photograph(page, shots, "streams")
    page.click(".chips a:has-text('forked')")
    expect(page.locator("#streams tbody tr")).to_have_count(1)
    assert stream_a in page.locator("#streams").inner_text()
    page.click(f"#streams a:has-text('{stream_a[:20]}')")
    expect(page.locator("h1")).to_contain_text(stream_a)
    assert page.locator("#verify-now").count() == 1
    photograph(page, shots, "stream-detail")

    page.click("header nav a:text-is('Incidents')")
    rows = page.locator("#incidents tbody tr")
    kinds = {rows.nth(i).locator(".kind").inner_text() for i in range(rows.count())}
    assert {"fork", "gap", "finding"} <= {k.lower() for k in kinds}
    photograph(page, shots, "incidents")

    page.click("#incidents tr:has(.kind-fork) td:nth-child(4) a")
    expect(page.locator("h1")).to_have_text("Fork at seq 1")
    original, candidate = scene["agent-a"][1], scene["fork"]
    assert json.loads(page.locator("#original").inner_text())["hash"] == original["hash"]
    assert json.loads(page.locator("#candidate").inner_text()) == {
        k: v for k, v in candidate.items() if k != "pii"
    }
    differing = page.locator("#fork-fields tr.differs td:first-child").all_inner_texts()
    assert [d.rstrip(" ≠") for d in differing] == ["action", "result", "hash"]
    assert IntegrityIncident.objects.get().offered_hash == candidate["hash"]
    photograph(page, shots, "incident-fork")

    page.goto(f"{base}/incidents/?kind=gap")
    page.click("#incidents td:nth-child(4) a")
    expect(page.locator("#missing-range")).to_have_text("1..1")
    assert stream_b in page.locator(".facts").inner_text()
    photograph(page, shots, "incident-gap")

    page.goto(f"{base}/incidents/?kind=finding")
    page.click("#incidents td:nth-child(4) a")
    expect(page.locator("h1")).to_contain_text("in run")
    photograph(page, shots, "incident-finding")

    page.click("header nav a:text-is('Checkpoints')")
    photograph(page, shots, "checkpoints")
    page.click(f"#checkpoints a:text-is('{scene['checkpoint'].number}')")
    note = page.locator("#note").inner_text()
    name, public = parse_verifier_key(page.locator("#verifier-key").inner_text())
    signed = verify_checkpoint(note + ("" if note.endswith("\n") else "\n"), name, public)
    checkpoint = scene["checkpoint"]  # a, b and the portal's own trail
    assert (signed.size, signed.root.hex()) == (checkpoint.tree_size, checkpoint.root_hash)
    with page.expect_download() as download:
        page.click("#download-note")
    assert Path(download.value.path()).read_text() == scene["checkpoint"].note
    assert page.locator("#heads tbody tr").count() == checkpoint.tree_size
    photograph(page, shots, "checkpoint-detail")

    page.click("header nav a:text-is('Dead letters')")
    expect(page.locator("#dead-letters tbody tr")).to_have_count(2)  # the fork and the bad hash
    photograph(page, shots, "dead-letters")
    page.click(".chips a:has-text('bad_hash')")
    expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
    page.click("#dead-letters td:first-child a")
    assert "tampered" in page.locator("#sample").inner_text()
    assert scene["agent-b-token"] not in page.content()
    assert RejectedBatch.objects.count() == 2
    photograph(page, shots, "dead-letter-detail")


def test_verify_now_runs_on_a_real_worker_and_its_result_shows(
    page, scene, tmp_path, settings, django_db_blocker
):
    from django.db import connection

    from tests.e2e.conftest import start_worker_ready, stop_worker, worker_env

    env = worker_env(
        connection.settings_dict["NAME"],
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
    )
    worker = start_worker_ready(env, tmp_path / "worker.log")
    try:
        stream = scene["agent-a"][0]["stream"]
        sign_in(page, scene["base"], "officer")
        page.goto(f"{scene['base']}/streams/{stream}/")
        page.click("#verify-now")
        expect(page.locator("#verify-requests tbody tr").first).to_be_visible()
        # The page refreshes itself while the job is queued or running.
        expect(page.locator("#verify-requests tr.job-done")).to_have_count(1, timeout=60_000)
        result = page.locator("#verify-requests tr.job-done td").nth(6).inner_text()
        assert "problems found" in result  # the stream is forked
        photograph(page, shots_dir(tmp_path), "stream-verified-now")
        page.click("#verify-requests tr.job-done td:first-child a")
        expect(page.locator(".job-status")).to_have_text("finished")
        photograph(page, shots_dir(tmp_path), "verification-request")
    finally:
        stop_worker(worker)
    log = (tmp_path / "worker.log").read_text()
    assert "run_verification_request" in log and "succeeded" in log


def test_an_auditor_reads_but_may_not_verify_and_a_scoped_one_sees_only_its_scope(page, scene):
    base = scene["base"]
    stream_a, stream_b = scene["agent-a"][0]["stream"], scene["agent-b"][0]["stream"]
    sign_in(page, base, "auditor")
    page.goto(f"{base}/streams/{stream_a}/")
    assert page.locator("#verify-now").count() == 0
    page.click("text=Log out")

    sign_in(page, base, "scoped")
    page.goto(f"{base}/streams/")
    assert stream_b not in page.locator("main").inner_text()
    page.goto(f"{base}/incidents/")
    assert stream_b[:20] not in page.locator("main").inner_text()
    assert page.goto(f"{base}/streams/{stream_b}/").status == 404
    assert page.goto(f"{base}/incidents/gaps/{stream_b}/").status == 404
    page.goto(f"{base}/checkpoints/{scene['checkpoint'].number}/")
    assert page.locator("#heads tbody tr").count() == 1
    assert stream_b not in page.locator("main").inner_text()
    page.goto(f"{base}/dead-letters/")
    assert "agent-b" not in page.locator("main").inner_text()


def test_an_officer_acknowledges_an_incident_and_the_auditor_reads_it(page, scene, tmp_path):
    base, shots = scene["base"], shots_dir(tmp_path)
    sign_in(page, base, "officer")
    page.goto(f"{base}/incidents/?kind=gap")
    page.click("#incidents a.acknowledge")
    expect(page.locator("h1")).to_have_text("Acknowledge an incident")
    expect(page.locator("#incident")).to_contain_text("seq 1..1 missing")
    photograph(page, shots, "incident-acknowledge")
    page.click("#acknowledge")  # an empty note: the browser itself asks for one
    expect(page.locator("h1")).to_have_text("Acknowledge an incident")
    page.fill("textarea[name=note]", "Agent b's host lost seq 1 in a disk swap; INC-7 opened.")
    page.click("#acknowledge")

    expect(page.locator("h1")).to_have_text("Integrity incidents")
    row = page.locator("#incidents tbody tr")
    expect(row).to_have_count(1)  # ?state=acknowledged
    expect(row.locator(".acknowledgement")).to_contain_text("by officer")
    expect(row.locator(".acknowledgement")).to_contain_text("INC-7 opened")
    photograph(page, shots, "incidents-acknowledged")
    page.goto(f"{base}/incidents/?state=open")
    assert "gap" not in {k.lower() for k in page.locator("#incidents .kind").all_inner_texts()}
    [trail] = AuditEvent.objects.filter(action="incident.acknowledge")
    assert trail.user_id == "officer" and "INC-7" in trail.details["note"]

    page.click("text=Log out")
    sign_in(page, base, "auditor")
    page.goto(f"{base}/incidents/?state=acknowledged")
    expect(page.locator("#incidents .acknowledgement")).to_contain_text("by officer")
    assert page.locator("a.acknowledge").count() == 0

"""The GDPR report's subject-request section: the requests of the period, their clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from obsportal.compliance.reports.sources import Period
from obsportal.compliance.reports.statements import EXCEPTIONS, OK, subject_requests
from obsportal.compliance.subjects import requests

pytestmark = pytest.mark.django_db


def _period(days: int = 90) -> Period:
    now = timezone.now()
    return Period(now - timedelta(days=days), now + timedelta(minutes=1))


def test_the_section_lists_the_periods_requests_by_reference_with_their_clocks():
    now = timezone.now()
    late = requests.create_request(
        kind="access", identifier="dora@example.org", received_at=now - timedelta(days=40)
    )
    answered = requests.create_request(
        kind="erasure",
        identifier="erik@example.org",
        legal_ground="Art. 17(1)(a)",
        received_at=now - timedelta(days=3),
    )
    answered.status, answered.completed_at = "completed", now - timedelta(days=1)
    answered.save()
    before = requests.create_request(
        kind="access", identifier="old@example.org", received_at=now - timedelta(days=400)
    )

    statement = subject_requests(_period(), reader=None)

    by_reference = {row[0]: row for row in statement.rows}
    assert set(by_reference) == {late.reference, answered.reference}  # not `before`
    assert before.reference not in by_reference
    assert by_reference[late.reference][-1] == "late (open)"  # a month has passed, no answer
    assert by_reference[answered.reference][-1] == "on time"
    assert statement.status == EXCEPTIONS  # a late request is an exception of the section
    assert "received_at" in statement.query  # the query is stated in the report
    text = repr(statement.rows)
    assert "@example.org" not in text  # no identifier travels in a report


def test_a_period_whose_requests_were_all_answered_in_time_is_ok():
    now = timezone.now()
    request = requests.create_request(kind="access", identifier="fay", received_at=now)
    request.status, request.completed_at = "completed", now
    request.save()
    statement = subject_requests(_period(), reader=None)
    assert [row[0] for row in statement.rows] == [request.reference]
    assert statement.status == OK
    received, deadline = (datetime.fromisoformat(v) for v in statement.rows[0][3:5])
    assert received.utcoffset() == timedelta(0)  # stated in UTC
    assert timedelta(days=28) <= deadline - received <= timedelta(days=31)  # GDPR: one month

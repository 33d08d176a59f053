import asyncio
import io
import json
import logging
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_sdk import JsonFormatter, LoggingConfig, Observability, TracingConfig, log_context

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class CountsFormatting:
    """Counts every attempt to turn it into text."""

    def __init__(self):
        self.calls = 0

    def __str__(self):
        self.calls += 1
        return "formatted"

    def __repr__(self):
        self.calls += 1
        return "CountsFormatting()"

    def __format__(self, spec):
        self.calls += 1
        return "formatted"


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_the_fields_and_the_active_trace(tmp_path):
    out = io.StringIO()
    obs = Observability(
        "agent-7",
        logging=LoggingConfig(stream=out),
        tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
    )
    with obs.tool_call("search") as call, log_context(request_id="r-1"):
        obs.logger.info("found %d tickets", 3, extra={"query": "refund", "limit": 10})
    obs.logger.warning("outside any span")
    obs.shutdown()

    inside, outside = lines(out)
    assert RFC3339_UTC.match(inside["ts"])
    when = datetime.strptime(inside["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60
    assert inside["level"] == "INFO"
    assert inside["logger"] == "agents_sdk.agent.agent-7"
    assert inside["message"] == "found 3 tickets"
    assert inside["agent_id"] == "agent-7"
    assert (inside["trace_id"], inside["span_id"]) == (call.trace_id, call.span_id)
    assert re.fullmatch(r"[0-9a-f]{32}", inside["trace_id"])
    assert inside["query"] == "refund" and inside["limit"] == 10
    assert inside["request_id"] == "r-1"
    assert outside["level"] == "WARNING"
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert "request_id" not in outside


def test_exceptions_are_logged_with_their_traceback():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out))
    try:
        raise ValueError("bad input")
    except ValueError:
        obs.logger.exception("step failed")
    (line,) = lines(out)
    assert line["level"] == "ERROR"
    assert "ValueError: bad input" in line["exception"]


def test_nothing_is_formatted_for_a_record_below_the_level():
    out = io.StringIO()
    obs = Observability(
        "probe-agent",
        logging=LoggingConfig(stream=out, level="INFO"),
        tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
    )
    probe = CountsFormatting()
    obs.logger.debug("payload %s %r", probe, probe)
    obs.logger.debug(probe)
    obs.logger.debug("with extra", extra={"payload": probe})
    # The hooks' own DEBUG lines are not even built at INFO.
    with obs.step("s") as step:
        step.add_details(note="x")
        with obs.tool_call("t"):
            pass
    assert probe.calls == 0
    assert out.getvalue() == ""

    obs.logger.info("payload %s", probe)
    assert probe.calls == 1
    obs.shutdown()
    assert lines(out)[0]["message"] == "payload formatted"


def test_hooks_log_at_debug_with_their_outcome():
    out = io.StringIO()
    obs = Observability(
        "agent-7",
        logging=LoggingConfig(stream=out, level="DEBUG"),
        tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
    )
    with obs.tool_call("search") as call:
        call.add_details(name="a detail named like a LogRecord field", args=[1])
    obs.shutdown()
    (line,) = lines(out)
    assert line["message"] == "tool call finished"
    assert (line["action"], line["result"]) == ("tool_execute", "success")
    assert line["details"]["tool"] == "search" and line["details"]["args"] == [1]
    assert line["span_id"] == call.span_id


def test_context_is_per_thread_and_per_task():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out))
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        with log_context(worker=n):
            barrier.wait()
            for _ in range(20):
                obs.logger.info("from thread", extra={"expected": n})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def task(n: int) -> None:
        with log_context(task=n):
            for _ in range(10):
                await asyncio.sleep(0)
                obs.logger.info("from task", extra={"expected": n})

    async def main() -> None:
        await asyncio.gather(*(task(n) for n in range(4)))

    asyncio.run(main())
    obs.shutdown()
    records = lines(out)
    assert len(records) == 80 + 40
    for record in records:
        key = "worker" if record["message"] == "from thread" else "task"
        assert record[key] == record["expected"]
        assert ("task" in record) != ("worker" in record)


def test_logging_off_writes_nothing_and_costs_a_flag(capsys):
    obs = Observability("agent-7")
    assert not obs.logger.isEnabledFor(logging.CRITICAL)
    obs.logger.error("dropped")
    assert capsys.readouterr().err == ""


def test_logging_by_environment(monkeypatch, capsys):
    monkeypatch.setenv("AGENTS_SDK_LOGGING", "1")
    monkeypatch.setenv("AGENTS_SDK_LOG_LEVEL", "warning")
    obs = Observability("env-agent")
    obs.logger.info("below the level")
    obs.logger.warning("kept")
    obs.shutdown()
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert line["message"] == "kept" and line["agent_id"] == "env-agent"


def test_the_formatter_also_serves_a_root_handler():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(agent_id="root-agent"))
    logger = logging.getLogger("tests.logs.root_formatter")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("hello", extra={"not_json": object()})
    finally:
        logger.removeHandler(handler)
    (line,) = lines(out)
    assert line["agent_id"] == "root-agent"
    assert line["not_json"].startswith("<object object")


def wait_for_lines(stream: io.StringIO, count: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(stream.getvalue().splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return lines(stream)


def test_lines_are_written_within_the_flush_interval_without_shutdown():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out, flush_interval=0.05))
    obs.logger.info("first")
    obs.logger.info("second")
    assert [line["message"] for line in wait_for_lines(out, 2)] == ["first", "second"]
    obs.logger.info("third, after a quiet spell")
    assert [line["message"] for line in wait_for_lines(out, 3)][-1] == (
        "third, after a quiet spell"
    )
    obs.shutdown()


def test_a_warning_is_written_at_once_after_the_lines_before_it():
    out = io.StringIO()
    # An interval no test waits out: only the warning can have written the lines.
    obs = Observability("agent-7", logging=LoggingConfig(stream=out, flush_interval=3600))
    obs.logger.info("context")
    obs.logger.warning("something is off")
    assert [(line["level"], line["message"]) for line in lines(out)] == [
        ("INFO", "context"),
        ("WARNING", "something is off"),
    ]
    obs.shutdown()


def test_a_zero_interval_writes_every_line_at_once():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out, flush_interval=0))
    obs.logger.info("now")
    assert [line["message"] for line in lines(out)] == ["now"]
    obs.shutdown()


FORKING_AGENT = """
import os, sys
from agents_sdk import LoggingConfig, Observability
obs = Observability("fork-agent", logging=LoggingConfig(flush_interval=3600))
obs.logger.info("parent, before the fork")
pid = os.fork()
if pid == 0:
    obs.logger.info("child")
    sys.exit(0)  # no shutdown(): the interpreter's exit writes what is pending
os.waitpid(pid, 0)
obs.logger.info("parent, after the fork")
"""


def test_pending_lines_are_written_at_exit_once_each_across_a_fork():
    done = subprocess.run(
        [sys.executable, "-c", FORKING_AGENT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    messages = sorted(json.loads(line)["message"] for line in done.stderr.splitlines())
    assert messages == ["child", "parent, after the fork", "parent, before the fork"]


def test_stack_info_still_shows_the_callers_stack():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out, flush_interval=0))

    def the_agents_own_function():
        obs.logger.info("where am I", stack_info=True)

    the_agents_own_function()
    (line,) = lines(out)
    last_frame = line["stack"].splitlines()[-2]
    assert "the_agents_own_function" in last_frame and __file__ in last_frame


def test_shutdown_writes_pending_lines_and_stops_the_flush_thread():
    out = io.StringIO()
    obs = Observability("agent-7", logging=LoggingConfig(stream=out, flush_interval=3600))
    before = set(threading.enumerate())
    obs.logger.info("pending")  # the first pending line starts the handler's thread
    flushers = [t for t in set(threading.enumerate()) - before if t.name == "agents-sdk-log-flush"]
    assert len(flushers) == 1
    obs.shutdown()
    assert [line["message"] for line in lines(out)] == ["pending"]
    for thread in flushers:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_a_line_of_the_direct_path_is_the_line_its_record_would_give(capsys):
    out = io.StringIO()
    # An agent of its own: caplog in other tests leaves its handlers on "agent-7"'s logger.
    obs = Observability(
        "agent-direct",
        logging=LoggingConfig(stream=out, flush_interval=0),
        tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
    )
    assert obs.logger.handlers == [obs.logger.handlers[0]]  # the direct path's condition
    formatter = JsonFormatter("agent-direct")
    shared = object()
    calls = [
        ("plain", (), None),
        ("n=%d, %s", (3, "x"), None),
        ("%(a)s/%(b)s", ({"a": 1, "b": "x"},), None),
        ("an empty mapping: %s", ({},), None),
        (CountsFormatting(), (), None),
        ("extra", (), {"tool": "search", "n": 2, "obj": shared}),
    ]
    expected = []
    with obs.step("s"), log_context(request_id="r-1"):
        for msg, args, extra in calls:
            obs.logger.info(msg, *args, extra=extra)
            record = logging.LogRecord(obs.logger.name, logging.INFO, "", 0, msg, args, None)
            for key, value in (extra or {}).items():
                setattr(record, key, value)
            expected.append(json.loads(formatter.format(record)))
        obs.logger.info("%d", "not a number")  # reported as logging reports it; no line
    got = lines(out)
    assert len(got) == len(calls)
    for line, want in zip(got, expected, strict=True):
        assert RFC3339_UTC.match(line.pop("ts")) and want.pop("ts")
        assert line == want and line["trace_id"] is not None
    assert "--- Logging error ---" in capsys.readouterr().err
    with pytest.raises(KeyError):
        obs.logger.info("clash", extra={"msg": "a LogRecord field"})
    obs.shutdown()

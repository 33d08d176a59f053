"""Celery worker hooks: metrics exposition over HTTP and tracing in each pool process.

Set PROMETHEUS_MULTIPROC_DIR (a directory of the worker's own, not shared with the
web processes) and OBSPORTAL_WORKER_METRICS_PORT; the worker's main process then
serves the sum of all its pool processes' metrics on that port.
"""

from __future__ import annotations

import logging
import os
import sys

from celery import signals

log = logging.getLogger(__name__)
METRICS_PORT_ENV = "OBSPORTAL_WORKER_METRICS_PORT"
METRICS_ADDR_ENV = "OBSPORTAL_WORKER_METRICS_ADDR"
_in_worker = False


def in_celery_worker() -> bool:
    """True in a Celery worker, also before its first signal: Django's apps are ready
    (obsportal.telemetry's ready() asks) before Celery sends celeryd_init."""
    return _in_worker or ("celery" in sys.argv[0] and "worker" in sys.argv[1:])


@signals.celeryd_init.connect
def _mark_worker(**kwargs) -> None:
    global _in_worker
    _in_worker = True
    from obsportal.telemetry.exposition import reset_multiprocess_dir

    reset_multiprocess_dir()


@signals.worker_init.connect
def _serve_metrics(**kwargs) -> None:
    from obsportal.telemetry.exposition import serve_process_metrics

    port = os.environ.get(METRICS_PORT_ENV)
    if port:
        serve_process_metrics(int(port), os.environ.get(METRICS_ADDR_ENV, "0.0.0.0"))
        log.info("worker metrics on :%s/metrics", port)


@signals.worker_process_init.connect
def _trace_pool_process(**kwargs) -> None:
    from obsportal.telemetry.tracing import configure_tracing

    configure_tracing("obsportal-worker")


@signals.worker_process_shutdown.connect
def _forget_pool_process(pid: int | None = None, **kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())

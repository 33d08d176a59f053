"""Timers: how long a block or a function takes, observed into a histogram in seconds.

with obs.timer("db_query_seconds", labels={"table": "tickets"}):
    ...
async with obs.timer("fetch_seconds"):
    ...
@obs.timer("plan_seconds")           # sync or async functions
def plan(): ...
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])
_perf = time.perf_counter


class Timer:
    """Context manager (sync and async) and decorator; `seconds` holds the last duration."""

    __slots__ = ("_observe", "_started", "seconds")

    def __init__(self, observe: Callable[[float], None]):
        self._observe = observe
        self._started = 0.0
        self.seconds: float | None = None

    def __enter__(self) -> Timer:
        self._started = _perf()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = _perf() - self._started
        self._observe(self.seconds)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: _F) -> _F:
        observe = self._observe
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = _perf()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    observe(_perf() - started)

            return timed_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = _perf()
            try:
                return fn(*args, **kwargs)
            finally:
                observe(_perf() - started)

        return timed  # type: ignore[return-value]

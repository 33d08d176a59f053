"""The acting user: the human on whose behalf the agent acts, for a whole request or task.

    with obs.acting_for(user_id="alice"):          # or `async with`
        with obs.tool_call("search_tickets"):      # its audit event: user_id "alice"
            ...

A contextvar: each thread and each asyncio task sees its own, and a task started
inside the block inherits it. A hook or `record_audit` given `user_id=` uses that.
"""

from __future__ import annotations

import contextvars
from types import TracebackType

_acting_user: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "agents_sdk_acting_user", default=None
)

current_user = _acting_user.get
"""The acting user here (this thread or task), or None."""


class ActingFor:
    """`with` / `async with`: audit events inside are on behalf of `user_id`."""

    __slots__ = ("user_id", "_token")

    def __init__(self, user_id: str | None):
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise ValueError("user_id must be a non-empty string (or None for nobody)")
        self.user_id = user_id
        self._token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> ActingFor:
        self._token = _acting_user.set(self.user_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _acting_user.reset(self._token)
            self._token = None

    async def __aenter__(self) -> ActingFor:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

"""Login lockout: django-axes' check in front of Django's own password check."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses a login from a locked-out (username, address) pair, whatever the password.

    Every network login (the sign-in page, the admin) passes its request. A call
    without one comes from inside the process (a shell, the test client's login()),
    where there is no address to throttle, so it is left to the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

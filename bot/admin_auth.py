"""The admin token's guards: a minimum length checked at start, and a lockout for clients that keep
sending wrong tokens (each worker process counts its own clients' failures)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from kb.settings import Settings

ADMIN_TOKEN_MIN_CHARS = 16
# A lockout lasts settings.admin_lockout_seconds the first time and twice as long at each repeat, up to this.
MAX_LOCKOUT_SECONDS = 3600.0


class AdminTokenTooShort(ValueError):
    """KB_ADMIN_TOKEN is set but short enough to guess."""


def check_admin_token(settings: Settings) -> None:
    """Refuse to start with a guessable admin token (no token at all is fine: the admin API is then off)."""
    token = settings.admin_token.get_secret_value() if settings.admin_token is not None else ""
    if token and len(token) < ADMIN_TOKEN_MIN_CHARS:
        raise AdminTokenTooShort(
            f"KB_ADMIN_TOKEN 太短：至少 {ADMIN_TOKEN_MIN_CHARS} 个字符（现在 {len(token)} 个），可用 "
            "python -c \"import secrets; print(secrets.token_urlsafe(24))\" 生成一个 / "
            f"KB_ADMIN_TOKEN is too short: at least {ADMIN_TOKEN_MIN_CHARS} characters (it has {len(token)}); "
            "make one with python -c \"import secrets; print(secrets.token_urlsafe(24))\"")


class AdminLockout:
    """Per client address: after `max_failures` wrong tokens in a row the client is locked out (every admin
    request answers 429, even with the right token) for `seconds`, doubled at each further lockout up to
    MAX_LOCKOUT_SECONDS. The right token resets the client's count. `max_failures` 0 = never lock out."""

    def __init__(self, max_failures: int, seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000):
        self.max_failures = max_failures
        self.seconds = seconds
        self.clock = clock
        self.max_clients = max_clients
        # client -> (wrong tokens since the last lockout or success, lockouts so far, locked until)
        self._clients: OrderedDict[str, tuple[int, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "AdminLockout":
        return cls(settings.admin_lockout_failures, settings.admin_lockout_seconds)

    def seconds_locked(self, client: str) -> float:
        """How long `client` is still locked out (0: it may try a token)."""
        with self._lock:
            entry = self._clients.get(client)
        return max(0.0, entry[2] - self.clock()) if entry else 0.0

    def failed(self, client: str) -> None:
        if self.max_failures <= 0:
            return
        with self._lock:
            failures, lockouts, until = self._clients.pop(client, (0, 0, 0.0))
            failures += 1
            if failures >= self.max_failures:
                until = self.clock() + min(MAX_LOCKOUT_SECONDS, self.seconds * 2 ** min(lockouts, 32))
                failures, lockouts = 0, lockouts + 1
            self._clients[client] = (failures, lockouts, until)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


def locked_out_message(seconds: float) -> str:
    wait = max(1, int(seconds + 0.999))
    return (f"管理令牌错误次数过多，请 {wait} 秒后再试 / too many wrong admin tokens from this address: "
            f"try again in {wait} s")

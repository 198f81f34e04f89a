"""The first start: with no account at all, an admin account named `admin` is made with a random password,
and the sign-in address and password are printed once in the log (like a notebook server's login link).
Only the password's hash is stored; `kb user passwd admin` sets a new one if the log is lost.
Several worker processes starting at once make it once (AccountStore.add_first).
"""
from __future__ import annotations

import logging
import time

from bot.auth.passwords import hash_password, new_password
from bot.state.access import Account
from kb.settings import Settings

log = logging.getLogger(__name__)

FIRST_ADMIN = "admin"


def sign_in_url(settings: Settings) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}/admin"


def make_first_admin(records, settings: Settings) -> str | None:
    """Make the first admin when there is no account (and KB_FIRST_ADMIN is on); its password, or None."""
    if not settings.first_admin or records.accounts.list():
        return None
    password = new_password()
    if not records.accounts.add_first(Account(FIRST_ADMIN, "admin", hash_password(password), time.time())):
        return None  # another process made it first
    bar = "=" * 78
    log.warning("\n%s\n首次启动：已创建管理员账号 / first start: an admin account was created\n"
                "  登录 / sign in:  %s\n  账号 / name:     %s\n  密码 / password: %s\n"
                "此密码只显示这一次，请登录后修改 / this password is shown once: change it after signing in\n%s",
                bar, sign_in_url(settings), FIRST_ADMIN, password, bar)
    return password

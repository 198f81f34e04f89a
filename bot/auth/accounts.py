"""Making and changing accounts and API tokens: what the admin API (bot/routes/users.py) and `kb user`
(bot/cli_admin.py) both do. Every refusal is a bilingual ValueError (the API answers it with 400, the
command prints it); nothing is stored half-way.

At least one enabled admin account is always kept: the last one cannot be removed, disabled or demoted.
"""
from __future__ import annotations

import re
import secrets
import time

from bot.auth.passwords import check_new_password, digest, hash_password, new_api_token, new_password
from bot.auth.roles import checked_role
from bot.state.access import Account, ApiToken

NAME = re.compile(r"^[\w.@-]{1,64}$")  # letters (any script), digits, _ . @ -
LAST_ADMIN = ("至少要保留一个可用的管理员账号 / at least one enabled admin account must remain (make another admin "
              "first)")


def checked_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise ValueError("账号名只能包含字母、数字和 _ . @ -，最长 64 个字符 / an account name is 1-64 letters, digits or "
                         "_ . @ -")
    return name


def no_such_account(name: str) -> LookupError:
    return LookupError(f"没有这个账号 / no such account: {name}")


def add_account(records, name: str, role: str, password: str | None = None) -> tuple[Account, str | None]:
    """A new account; with no password given, a random one, returned (shown once). AlreadyExists for a
    taken name."""
    generated = None
    if password is None:
        password = generated = new_password()
    account = Account(checked_name(name), checked_role(role), hash_password(check_new_password(password)),
                      time.time())
    records.accounts.add(account)
    return account, generated


def _other_enabled_admins(records, name: str) -> int:
    return sum(1 for a in records.accounts.list() if a.role == "admin" and not a.disabled and a.name != name)


def change_account(records, name: str, *, role: str | None = None, disabled: bool | None = None,
                   password: str | None = None) -> Account:
    """Change an account's role, enabled state or password. Disabling it or a new password ends its sessions."""
    account = records.accounts.get(name)
    if account is None:
        raise no_such_account(name)
    if role is not None:
        checked_role(role)
    stays_admin = (role or account.role) == "admin" and not (disabled if disabled is not None else account.disabled)
    if account.role == "admin" and not account.disabled and not stays_admin and not _other_enabled_admins(records, name):
        raise ValueError(LAST_ADMIN)
    new_hash = hash_password(check_new_password(password)) if password is not None else None
    records.accounts.update(name, role=role, disabled=disabled, password_hash=new_hash)
    if disabled or password is not None:
        records.logins.revoke_account(name)
    return records.accounts.get(name)


def remove_account(records, name: str) -> None:
    account = records.accounts.get(name)
    if account is None:
        raise no_such_account(name)
    if account.role == "admin" and not account.disabled and not _other_enabled_admins(records, name):
        raise ValueError(LAST_ADMIN)
    records.logins.revoke_account(name)
    records.accounts.delete(name)


def add_token(records, name: str, role: str, created_by: str) -> tuple[ApiToken, str]:
    """A new API token and the token itself (shown once: only its hash is kept)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("令牌名称需要 1 到 100 个字符 / a token's name is 1-100 characters")
    secret = new_api_token()
    token = ApiToken(secrets.token_hex(6), name, checked_role(role), digest(secret), created_by, time.time())
    records.tokens.add(token)
    return token, secret

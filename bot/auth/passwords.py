"""Passwords hashed with argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile, 64 MiB), and the
random secrets the service hands out: first passwords, session cookies, API tokens, site secrets.

API tokens and session cookies are 256 random bits: they are stored as their SHA-256 (found by hash, never
guessable), not with a slow KDF, which only protects secrets people choose.
"""
from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
TOKEN_PREFIX = "kbt_"  # API tokens start with it, so a leaked one is easy to recognise (secret scanners)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash it at the next sign-in)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


@lru_cache(maxsize=1)
def _unknown_account_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_nobody(password: str) -> bool:
    """Spend the time a real check takes, for a name that has no account: a wrong name and a wrong password
    answer alike, so names cannot be probed by timing. Always False."""
    verify_password(_unknown_account_hash(), password)
    return False


def check_new_password(password: str) -> str:
    """The password, when it may be set; a bilingual ValueError saying what is wrong otherwise."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"密码太短：至少 {MIN_PASSWORD_CHARS} 个字符 / password too short: at least "
                         f"{MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"密码太长：最多 {MAX_PASSWORD_CHARS} 个字符 / password too long: at most "
                         f"{MAX_PASSWORD_CHARS} characters")
    return password


def new_password() -> str:
    """A random password to hand out once (20 characters, 120 bits)."""
    return secrets.token_urlsafe(15)


def new_secret() -> str:
    """256 random bits, URL-safe: session cookies, CSRF tokens, site signing secrets."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return TOKEN_PREFIX + new_secret()


def digest(secret: str) -> str:
    """How a cookie or API token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()

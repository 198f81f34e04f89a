"""The admin token's guards: a minimum length checked at start, and the message of the lockout for addresses that
keep sending wrong tokens (counted by the LoginGuard: bot/auth/sessions.py, bot/auth/principal.py)."""
from __future__ import annotations

from kb.settings import Settings

ADMIN_TOKEN_MIN_CHARS = 16


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


def locked_out_message(seconds: float) -> str:
    wait = max(1, int(seconds + 0.999))
    return (f"管理令牌错误次数过多，请 {wait} 秒后再试 / too many wrong admin tokens from this address: "
            f"try again in {wait} s")

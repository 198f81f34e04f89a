"""The identity a site's widget passes: a short-lived JWT (HS256, PyJWT) that the site's own backend signs
with the secret the admin page gave it, sent by the widget in the X-KB-Token header.

    {"aud": "<site id>", "sub": "<agent id>", "team": "<team>", "iat": <now>, "exp": <now + at most 1 h>}

Verified: the signature with that site's secret (HS256 only), `exp` (with LEEWAY_SECONDS for clock skew),
`iat` (not in the future, and exp - iat at most KB_WIDGET_TOKEN_MAX_SECONDS), `aud` (a registered site with a
secret), and the page's Origin (one of that site's origins, when the browser sends one). A request with no
token is anonymous (rate-limited per address); one with a token that fails any check is refused (401).
"""
from __future__ import annotations

from fastapi import HTTPException, Request

import jwt

from bot.auth.site_directory import SiteDirectory
from bot.state.base import AskerIdentity

HEADER = "X-KB-Token"
LEEWAY_SECONDS = 30
MAX_CLAIM_CHARS = 128


class TokenRefused(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # expired, invalid, unknown-site, origin, lifetime


def _refuse(reason: str, zh: str, en: str) -> TokenRefused:
    return TokenRefused(reason, f"身份令牌无效：{zh} / widget token refused: {en}")


def _claim(claims: dict, name: str, required: bool) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_CHARS:
        raise _refuse("invalid", f"{name} 必须是 1 到 {MAX_CLAIM_CHARS} 个字符的文本",
                      f"{name} must be a string of 1-{MAX_CLAIM_CHARS} characters")
    return value.strip()


def verify(token: str, sites: SiteDirectory, origin: str | None, max_seconds: int) -> AskerIdentity:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse("invalid", "格式不对", "not a JWT") from None
    site_id = unverified.get("aud")
    site = sites.site(site_id) if isinstance(site_id, str) else None
    if site is None or not site.secret:
        raise _refuse("unknown-site", "aud 不是已登记并设置了密钥的站点", "aud is not a registered site with a secret")
    try:
        claims = jwt.decode(token, site.secret, algorithms=["HS256"], audience=site.id, leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise _refuse("expired", "已过期", "expired") from None
    except jwt.InvalidSignatureError:
        raise _refuse("invalid", "签名不对", "bad signature") from None
    except jwt.InvalidAlgorithmError:
        raise _refuse("invalid", "只接受 HS256 签名", "only the HS256 algorithm is accepted") from None
    except jwt.ImmatureSignatureError:
        raise _refuse("invalid", "签发时间在未来", "issued in the future") from None
    except jwt.PyJWTError as e:
        raise _refuse("invalid", str(e), str(e)) from None
    if not isinstance(claims["iat"], (int, float)) or claims["exp"] - claims["iat"] > max_seconds:
        raise _refuse("lifetime", f"有效期超过 {max_seconds} 秒", f"lifetime over {max_seconds} s (exp - iat)")
    if origin and origin not in site.origins:
        raise _refuse("origin", f"不能在 {origin} 上使用", f"not for pages on {origin}")
    return AskerIdentity(_claim(claims, "sub", True), _claim(claims, "team", False), site.id)


async def widget_identity(request: Request) -> AskerIdentity | None:
    """Who is asking (None: anonymous); 401 for a token that fails verification."""
    token = request.headers.get(HEADER, "").strip()
    if not token:
        return None
    app = request.app
    try:
        who = verify(token, app.state.site_directory, request.headers.get("origin"),
                     app.state.settings.widget_token_max_seconds)
    except TokenRefused as e:
        raise HTTPException(401, detail=str(e), headers={"X-KB-Token-Refused": e.reason}) from None
    request.state.asker = who
    return who

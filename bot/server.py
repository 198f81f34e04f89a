"""`serve(settings)`: run the service under uvicorn (factory mode) with host/port/workers from settings.

The settings given here reach every worker process (also the ones uvicorn spawns for workers > 1) through
one environment variable holding them as JSON.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from pydantic import SecretStr

from kb.settings import Settings, unknown_env_settings

log = logging.getLogger(__name__)

SETTINGS_ENV = "KEFU_BOT_SETTINGS_JSON"


def _dump(settings: Settings) -> str:
    data: dict[str, Any] = settings.model_dump(mode="json")
    for name in Settings.model_fields:  # secrets as they are: the JSON dump masks them
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return json.dumps(data, ensure_ascii=False)


def settings_from_env() -> Settings:
    raw = os.environ.get(SETTINGS_ENV)
    return Settings.model_validate(json.loads(raw)) if raw else Settings()


def app_factory():
    """The uvicorn factory: `uvicorn --factory bot.server:app_factory`."""
    from bot.app import create_app

    return create_app(settings_from_env())


def serve(settings: Settings | None = None, *, log_level: str = "info", reload: bool = False) -> None:
    import uvicorn

    from bot.admin_auth import check_admin_token
    from kb.state import backend

    settings = settings or Settings()
    for name in unknown_env_settings():
        log.warning("%s 不是任何设置，已忽略（见 docs/configuration.md） / %s is no setting and is ignored "
                    "(see docs/configuration.md)", name, name)
    # Before uvicorn: a refused token or database URL is one clear line, not a worker's traceback.
    check_admin_token(settings)
    backend(settings)
    os.environ[SETTINGS_ENV] = _dump(settings)
    uvicorn.run(
        "bot.server:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=max(1, settings.workers) if not reload else None,
        reload=reload,
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        access_log=settings.access_log,
        timeout_graceful_shutdown=30,
    )

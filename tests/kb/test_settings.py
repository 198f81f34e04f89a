"""Settings from the environment: a KB_ variable that names no setting is reported, not silently ignored."""
from __future__ import annotations

from kb.settings import unknown_env_settings


def test_a_misspelt_setting_is_named():
    env = {"KB_DATABSE_URL": "postgresql://x", "KB_DATA_DIR": "data", "kb_port": "8000", "HOME": "/root"}
    assert unknown_env_settings(env) == ["KB_DATABSE_URL"]

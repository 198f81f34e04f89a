"""docs/configuration.md is generated from the Settings fields (`kb config-doc`) and must say what they say."""
from __future__ import annotations

from tests.support.paths import REPO


def test_configuration_doc_is_in_sync_with_settings():
    from kb import config_doc

    assert (REPO / config_doc.DOC_PATH).read_text("utf-8") == config_doc.render(), \
        "docs/configuration.md is out of date: run `kb config-doc`"


def test_every_setting_is_documented_with_its_variable_and_default():
    from kb import config_doc
    from kb.settings import Settings

    doc = config_doc.render()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"| `KB_{name.upper()}` |" in doc
    assert "| `KB_ENCODER_THREADS` | integer | `0` |" in doc
    assert "| `KB_ADMIN_TOKEN` | secret \\| unset | *(unset)* |" in doc

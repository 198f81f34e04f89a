"""kb/segment.py cuts exactly as jieba's lcut_for_search does, with jieba-rs on the Han runs."""
from __future__ import annotations

import json
import random

import jieba
import pytest

from kb.segment import Segmenter
from kb.text import display_text, search_text
from kb.tokenize import Tokenizer
from tests.support.paths import DEV_SET, SEEDS


def _jieba() -> "jieba.Tokenizer":
    """A fresh jieba with the default dictionary (copied from jieba's own, as kb/tokenize.py does: 0.05 s)."""
    jieba.dt.check_initialized()
    t = jieba.Tokenizer()
    t.FREQ, t.total, t.initialized = dict(jieba.dt.FREQ), jieba.dt.total, True
    return t


def _texts(seed_kb) -> list[str]:
    """What ingest and questions cut: every seed passage's search text, the raw seed files in pieces (ASCII
    runs with symbols, newlines, slide numbers), the dev questions, and random mixes of corpus pieces with
    ASCII, symbols, whitespace and Han characters outside jieba's range."""
    passages = seed_kb.passages(list(range(len(seed_kb.store.kinds))))
    texts = [p.search_text for p in passages]
    for path in sorted(SEEDS.glob("*.txt")):
        body = path.read_text(encoding="utf-8", errors="replace")
        texts += [body[i:i + 300] for i in range(0, len(body), 300)]
    texts += [search_text(display_text(json.loads(line)["question"]))
              for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(20261203)
    pool = "".join(texts)
    extra = list("abZ09.-+#&_%，。？ \r\n\t\u3000") + ["\u3400", "\u4dbf", "\u9fd6", "\u9fff", "\uf900", "1.1.2", "9-10"]
    for _ in range(3000):
        at = rng.randrange(len(pool) - 40)
        chars = list(pool[at:at + rng.randint(1, 40)])
        for _ in range(rng.randint(0, 4)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(extra))
        texts.append("".join(chars))
    return texts


def test_the_shipped_dictionary_takes_the_fast_path_and_cuts_as_jieba(seed_kb):
    tokenizer = Tokenizer.from_folder(None)
    segmenter = tokenizer._segmenter
    assert segmenter.fast
    texts = _texts(seed_kb)
    assert len(texts) > 3300
    differ = [t for t in texts if segmenter.cut_for_search(t) != tokenizer._jieba.lcut_for_search(t)]
    assert not differ, differ[:3]


def test_random_han_runs_cut_as_jieba():
    """Dictionary words, frequent and rare characters and characters outside the dictionary run together:
    the DAG, the route and the HMM for unknown runs all come into play."""
    j = _jieba()
    segmenter = Segmenter(j)
    assert segmenter.fast, "jieba-rs is not in use: this would compare jieba with itself"
    words = [w for w, f in j.FREQ.items() if f > 0 and all("\u4e00" <= c <= "\u9fd5" for c in w)]
    singles = [w for w in words if len(w) == 1]
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(words) if rng.random() < 0.5 else
                       rng.choice(singles) if rng.random() < 0.7 else chr(rng.randrange(0x4E00, 0x9FD6))
                       for _ in range(rng.randint(1, 12)))
        assert segmenter.cut_for_search(text) == j.lcut_for_search(text), text


def test_re_added_words_keep_the_totals_equal():
    """jieba adds a re-added word's new frequency to its total, jieba-rs replaces the old one: the pad keeps
    them equal. Giving '了' (the most frequent word, ~1.5 % of the total) frequency 1 moves jieba-rs's total
    by 883,633 without it, which shows in any suggested frequency."""
    j = _jieba()
    segmenter = Segmenter(j)
    segmenter.add_word("了", 1)
    segmenter.add_word("客户投诉", None)
    segmenter.add_word("道歉", 10)
    segmenter.check()
    assert segmenter.fast
    assert segmenter._fast.suggest_freq("是在") == j.suggest_freq("是在")
    for text in ["了是在和有", "我们了解了客户投诉的原因并道歉", "他来了又走了"]:
        assert segmenter.cut_for_search(text) == j.lcut_for_search(text)


def test_a_word_of_frequency_zero_leaves_everything_to_jieba(monkeypatch):
    """Frequency 0 is jieba's forced split (its HMM must not join the word), which jieba-rs does not have."""
    import jieba.finalseg

    monkeypatch.setattr(jieba.finalseg, "Force_Split_Words", set())  # jieba keeps forced splits globally
    j = _jieba()
    segmenter = Segmenter(j)
    segmenter.add_word("投诉处理", 0)
    assert not segmenter.fast
    assert segmenter.cut_for_search("客户投诉处理流程") == j.lcut_for_search("客户投诉处理流程")


def test_without_rjieba_jieba_cuts_everything(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rjieba", None)  # import fails as on a platform without a wheel
    j = _jieba()
    segmenter = Segmenter(j)
    assert not segmenter.fast
    segmenter.add_word("首问负责制", 10)
    assert segmenter.cut_for_search("首问负责制是什么") == j.lcut_for_search("首问负责制是什么")


def test_a_probe_that_cuts_differently_leaves_everything_to_jieba():
    class Wrong:
        def cut_for_search(self, text):
            return list(text)

        def add_word(self, *args):
            pass

    j = _jieba()
    segmenter = Segmenter(j)
    segmenter._fast = Wrong()
    segmenter.check()
    assert not segmenter.fast
    assert segmenter.cut_for_search("客户投诉快递晚到") == j.lcut_for_search("客户投诉快递晚到")


@pytest.mark.parametrize("text", ["", " ", "\r\n", "ABC", "a-b 1.1.1", "，。", "\u3400\u9fff", "客户\r\n\t投诉 APP退款"])
def test_edge_texts(text):
    j = _jieba()
    segmenter = Segmenter(j)
    assert segmenter.fast, "jieba-rs is not in use: this would compare jieba with itself"
    assert segmenter.cut_for_search(text) == j.lcut_for_search(text)

"""jieba's search-mode segmentation (`lcut_for_search`, HMM on), with runs of Han characters cut by jieba-rs.

jieba is pure Python: a question takes ~0.1 ms warm and ~0.3 ms right after a model run has evicted the
caches, the largest piece of an answer's own work before its encode. rjieba (jieba-rs: the same dictionary,
DAG, route and HMM, in Rust) cuts the same text in ~2 us. It gives the same words for runs of Han
characters; it differs in grouping ASCII with symbols ('9-10', '1.1.1' stay one token where jieba yields
'9', '-', '10'). So the text is split into jieba's own blocks, exactly as `jieba.Tokenizer.cut` splits it:
blocks of Han characters only go to jieba-rs, blocks holding any ASCII to jieba itself, and the rest
(spaces, punctuation, characters jieba does not treat as Han) is yielded as jieba yields it.

The two dictionaries must stay equal: every word added to jieba goes to jieba-rs with the frequency jieba
ended up giving it (their `suggest_freq` round differently), and jieba-rs's total is padded by what jieba
keeps counting for a re-added word (jieba adds the new frequency to its total, jieba-rs replaces the old).
A probe text is cut both ways at the end of set-up; any difference, a word with frequency 0 (jieba's forced
split, which jieba-rs lacks) or no rjieba installed, and jieba cuts everything.
"""
from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger(__name__)

_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")  # jieba's re_han_default
_SKIP = re.compile(r"(\r\n|\s)")  # jieba's re_skip_default
_HAN_ONLY = re.compile(r"[\u4E00-\u9FD5]+")
# A word no Han-only block can contain: it carries the pad of jieba-rs's total.
_TOTAL_PAD = "\x00\x01"
_PROBE = ("客户投诉快递晚到要赔钱我该怎么处理服务人员应当耐心倾听顾客的抱怨并及时给予答复"
          "迪斯尼乐园的员工培训强调以客户为中心"
          "首问负责制让每一位来电的消费者都得到回应")


class Segmenter:
    def __init__(self, jieba_tokenizer):
        """jieba_tokenizer: an initialised `jieba.Tokenizer` (its dictionary loaded, no words added yet)."""
        self._jieba = jieba_tokenizer
        self._lock = threading.Lock()  # jieba's lazy structures are not thread-safe while being extended
        self._pad = 0
        self._added: list[str] = []
        try:
            import rjieba

            self._fast = rjieba.Jieba()
        except Exception as exc:  # noqa: BLE001 - no wheel for this platform: jieba alone is correct, only slower
            log.info("rjieba unavailable (%s): jieba segments everything", exc)
            self._fast = None

    @property
    def fast(self) -> bool:
        """Whether Han runs are cut by jieba-rs."""
        return self._fast is not None

    def add_word(self, word: str, freq: int | None = None) -> None:
        old = self._jieba.FREQ.get(word, 0)
        self._jieba.add_word(word, freq=freq)
        if self._fast is None:
            return
        new = self._jieba.FREQ[word]
        if new == 0:
            log.info("dictionary word %r has frequency 0 (a forced split): jieba segments everything", word)
            self._fast = None
            return
        self._fast.add_word(word, new, None)
        self._pad += old
        if self._pad:
            self._fast.add_word(_TOTAL_PAD, self._pad, None)
        self._added.append(word)

    def check(self) -> None:
        """Cut a probe (fixed text and the added words) both ways; on any difference jieba does everything."""
        if self._fast is None:
            return
        probe = _PROBE + "，".join(self._added)
        with self._lock:
            expected = self._jieba.lcut_for_search(probe)
        if self._fast_cut(probe) != expected:
            log.warning("jieba-rs and jieba cut the probe differently: jieba segments everything")
            self._fast = None

    def cut_for_search(self, text: str) -> list[str]:
        if self._fast is None:
            with self._lock:
                return self._jieba.lcut_for_search(text)
        return self._fast_cut(text)

    def _fast_cut(self, text: str) -> list[str]:
        out: list[str] = []
        for i, block in enumerate(_BLOCK.split(text)):
            if not block:
                continue
            if i % 2:  # a block jieba cuts with its dictionary (split() puts the captured ones at odd places)
                if _HAN_ONLY.fullmatch(block):
                    out += self._fast.cut_for_search(block)
                else:
                    with self._lock:
                        out += self._jieba.lcut_for_search(block)
            else:  # what jieba does not cut: whitespace runs whole, anything else character by character
                for piece in _SKIP.split(block):
                    if _SKIP.fullmatch(piece):
                        out.append(piece)
                    else:
                        out += piece
        return out

"""Tokens for the keyword side: jieba words and character bigrams of the normalised search text.

jieba is wrapped here (and cut by `kb.segment`) and nowhere else; the BM25 scorer only ever sees token lists.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from kb.segment import Segmenter

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORDISH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]+")


# The editors' dictionary, as files (data/dictionary/ and each version's copy): jieba's user dictionary,
# stopwords, synonym groups. Missing files fall back to the packaged defaults.
DICTIONARY_FILES = ("userdict.txt", "stopwords.txt", "synonyms.txt")


def resource_text(name: str) -> str:
    return resources.files("kb.resources").joinpath(name).read_text("utf-8")


def parse_synonyms(text: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        for w in words[1:]:
            mapping[w] = words[0]
    return mapping


def parse_stopwords(text: str) -> set[str]:
    return {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}


class Tokenizer:
    """jieba segmentation with the domain dictionary, stopwords and synonym folding.

    Built from the dictionary files a KB version carries, so queries are tokenised exactly like the
    passages they are matched against.
    """

    def __init__(self, userdict: str = "", stopwords: str = "", synonyms: str = ""):
        import jieba

        jieba.setLogLevel(60)
        self._jieba = jieba.Tokenizer()
        base = jieba.dt
        if base.initialized and base.dictionary == self._jieba.dictionary:
            # `kb ingest`: the cleaner loaded jieba's dictionary already; a copy costs 0.05 s, a load 0.6 s
            self._jieba.FREQ, self._jieba.total = dict(base.FREQ), base.total
            self._jieba.initialized = True
        else:
            self._jieba.initialize()
        self._segmenter = Segmenter(self._jieba)
        for line in userdict.splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self._segmenter.add_word(parts[0], freq=freq)
        self.stopwords = parse_stopwords(stopwords)
        self.synonyms = parse_synonyms(synonyms)
        for word in self.synonyms:
            self._segmenter.add_word(word)
        self._segmenter.check()
        self._question_words = lru_cache(maxsize=4096)(lambda text: tuple(self._words(text)))

    @classmethod
    def from_folder(cls, folder: Path | None) -> "Tokenizer":
        """Dictionary files from a version (or editor) folder, falling back to the packaged defaults."""
        def read(name: str) -> str:
            if folder is not None and (folder / name).exists():
                return (folder / name).read_text("utf-8")
            return resource_text(name)

        return cls(*(read(name) for name in DICTIONARY_FILES))

    def words(self, search_text: str) -> list[str]:
        """jieba words (search mode, so compounds also yield their parts), without stopwords/punctuation."""
        if len(search_text) <= 200:  # a question: tokenised by the answer and again by the search
            return list(self._question_words(search_text))
        return self._words(search_text)

    def _words(self, search_text: str) -> list[str]:
        raw = self._segmenter.cut_for_search(search_text)
        out = []
        for w in raw:
            w = w.strip()
            if not w or w in self.stopwords or not _WORDISH.search(w):
                continue
            out.append(self.synonyms.get(w, w))
        return out

    def bigrams(self, search_text: str) -> list[str]:
        """Overlapping Han character bigrams: robust to typos, missing characters and unknown words."""
        grams = []
        for run in _HAN.findall(search_text):
            if len(run) == 1:
                continue
            grams.extend(run[i:i + 2] for i in range(len(run) - 1))
        return grams

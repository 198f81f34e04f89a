"""A compact Unigram tokenizer: the ids of a `tokenizer.json` Unigram model in ~40 MB instead of ~280.

`tokenizers` keeps a Unigram vocabulary in a byte trie with a hash map per node: e5's 250,002 pieces cost
282 MB of RSS in every serving process, a tenth of the 1M-passage budget. Here the pieces live in one
Python dict (piece -> id) and one list of scores, and the Viterbi search is a short loop per character.
Everything around the model still runs in `tokenizers`: the literal special tokens, the normaliser and
the pre-tokeniser are read from the same file, only the vocabulary is left out.

The search repeats `tokenizers`' `Unigram::encode_optimized` step for step so the ids are identical
(tests/kb/test_tokenizer_gives_the_librarys_ids.py compares them on the seeds, the dev questions and random
mixed-script text):
start positions ascending, pieces by increasing length, a path replaced only by a strictly better
score (float64, the file's scores), a character without a single-character piece scored as `<unk>` at
min_score - 10, and consecutive `<unk>` fused.
"""
from __future__ import annotations

import hashlib
import json
import marshal
import re
from array import array
from pathlib import Path

UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
CACHE_FORMAT = 1


class UnsupportedTokenizer(ValueError):
    """The file is not a plain Unigram tokenizer this class reproduces; use `tokenizers` itself."""


class UnigramTokenizer:
    def __init__(self, spec: dict, ids: dict[str, int] | None = None, scores: array | None = None):
        """`spec`: a parsed tokenizer.json; `ids` and `scores`: its vocabulary, if `spec` left it out."""
        model = spec.get("model") or {}
        if model.get("type") != "Unigram" or model.get("byte_fallback"):
            raise UnsupportedTokenizer("not a Unigram model without byte fallback")
        added = spec.get("added_tokens") or []
        if any(t.get("normalized") or t.get("lstrip") or t.get("rstrip") or t.get("single_word") for t in added):
            raise UnsupportedTokenizer("added tokens with matching options")
        post = spec.get("post_processor") or {}
        self._bos, self._eos = _template_ends(post)
        self.unk_id = model.get("unk_id")
        if self.unk_id is None:
            raise UnsupportedTokenizer("Unigram model without unk_id")
        if ids is None or scores is None:
            ids, scores = {}, array("d")
            for i, (piece, score) in enumerate(model["vocab"]):
                ids[piece] = i  # a repeated piece maps to its last id, as in tokenizers' hash map
                scores.append(float(score))
        self._ids, self._scores = ids, scores
        longest: dict[str, int] = {}
        for piece in ids:
            if piece and len(piece) > longest.get(piece[0], 0):
                longest[piece[0]] = len(piece)
        self._longest = longest  # first character -> longest piece starting with it: bounds the look-ups
        self._unk_score = min(self._scores) - UNK_PENALTY
        self._added = {t["content"]: t["id"] for t in added}
        self._split_added = (re.compile("|".join(re.escape(c) for c in sorted(self._added, key=len, reverse=True)))
                             if self._added else None)
        self._normalizer, self._first, self._rest = _text_steps(spec)

    @classmethod
    def from_file(cls, path: str | Path, cache: str | Path | None = None) -> "UnigramTokenizer":
        """`cache`: a file `write_cache` made of this tokenizer.json; used only if it is of these bytes."""
        data = Path(path).read_bytes()
        parsed = _read_cache(Path(cache), data) if cache is not None else None
        return cls(*(parsed or _read(data.decode("utf-8"))))

    def token_to_id(self, piece: str) -> int | None:
        return self._added.get(piece, self._ids.get(piece))

    def encode(self, text: str) -> list[int]:
        """Ids with the post-processor's <s> ... </s>, not truncated (= Tokenizer.encode(text).ids)."""
        ids = list(self._bos)
        pos = 0
        if self._split_added is not None:
            for m in self._split_added.finditer(text):
                self._encode_segment(text[pos:m.start()], pos == 0, ids)
                ids.append(self._added[m.group()])
                pos = m.end()
        self._encode_segment(text[pos:], pos == 0, ids)
        ids.extend(self._eos)
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def _encode_segment(self, segment: str, at_start: bool, out: list[int]) -> None:
        if not segment:
            return
        if self._normalizer is not None:
            segment = self._normalizer.normalize_str(segment)
        # Metaspace's prepend_scheme "first" prepends only to the text's first segment (original offset 0).
        pre = self._first if at_start else self._rest
        words = [w for w, _ in pre.pre_tokenize_str(segment)] if pre is not None else [segment]
        for word in words:
            self._viterbi(word, out)

    def _viterbi(self, s: str, out: list[int]) -> None:
        n = len(s)
        if not n:
            return
        ids, scores, longest, unk_id, unk_score = self._ids.get, self._scores, self._longest, self.unk_id, self._unk_score
        best = [0.0] + [float("-inf")] * n  # -inf stands for tokenizers' "no path yet": any score replaces it
        start = [0] * (n + 1)
        piece = [0] * (n + 1)
        for i in range(n):
            base = best[i]
            single = False
            for j in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                pid = ids(s[i:j])
                if pid is None:
                    continue
                score = base + scores[pid]
                if score > best[j]:
                    best[j], start[j], piece[j] = score, i, pid
                if j == i + 1:
                    single = True
            if not single:
                score = base + unk_score
                if score > best[i + 1]:
                    best[i + 1], start[i + 1], piece[i + 1] = score, i, unk_id
        path = []
        end = n
        while end > 0:
            begin = start[end]
            if piece[end] == unk_id:  # fuse_unk: a run of <unk> is one token, looked up as one string
                while begin > 0 and piece[begin] == unk_id:
                    begin = start[begin]
                path.append(ids(s[begin:end], unk_id) if end - begin > 1 else unk_id)
            else:
                path.append(piece[end])
            end = begin
        out.extend(reversed(path))


def write_cache(path: str | Path, cache: str | Path) -> bool:
    """The vocabulary of tokenizer.json `path`, parsed, for `from_file(path, cache)`: e5's loads in ~0.15 s
    instead of ~1.2 s (pair by pair in Python), which the service's start and every ingest wait for. Written
    at setup beside the ONNX export. False (nothing written) if the file is not of the layout `_read` knows."""
    data = Path(path).read_bytes()
    spec, ids, scores = _read(data.decode("utf-8"))
    if ids is None:
        return False
    blob = marshal.dumps((CACHE_FORMAT, hashlib.sha256(data).hexdigest(), json.dumps(spec, ensure_ascii=False),
                          list(ids), list(ids.values()), scores.tobytes()))
    Path(cache).write_bytes(blob)
    return True


def _read_cache(cache: Path, data: bytes):
    """(spec, piece -> id, scores) from `cache` if it was made of exactly `data`; None otherwise."""
    try:
        fmt, digest, spec, pieces, values, raw = marshal.loads(cache.read_bytes())
        if fmt != CACHE_FORMAT or digest != hashlib.sha256(data).hexdigest():
            return None
        scores = array("d")
        scores.frombytes(raw)
        # The pieces come in one allocation run, as _read's do: the dict is the only thing left of the load.
        return json.loads(spec), dict(zip(pieces, values)), scores
    except (OSError, ValueError, EOFError, TypeError):
        return None


_PAIR = re.compile(r'\s*\[\s*"((?:[^"\\]|\\.)*)"\s*,\s*(-?[0-9.eE+-]+)\s*\]\s*(,?)')


def _read(text: str):
    """(spec without the vocabulary, piece -> id, scores), the pairs read one at a time; or (spec, None, None).

    `json.loads` on the whole file holds 250k [piece, score] lists at once; freed, they leave the kept
    strings scattered over half-empty memory pools (76 MB of RSS where this reader leaves 43)."""
    key = re.search(r'"vocab"\s*:\s*\[', text)
    if key is None:
        return json.loads(text), None, None
    pos = key.end()
    ids: dict[str, int] = {}
    scores = array("d")
    while True:
        m = _PAIR.match(text, pos)
        if m is None:
            break
        piece = m.group(1)
        ids[json.loads(f'"{piece}"') if "\\" in piece else piece] = len(scores)  # a repeat keeps its last id
        scores.append(float(m.group(2)))
        pos = m.end()
        if not m.group(3):
            break
    end = re.compile(r"\s*\]").match(text, pos)
    spec = None
    if end is not None:
        try:
            spec = json.loads(text[:key.end()] + text[end.end() - 1:])
        except ValueError:
            spec = None
    if spec is None or (spec.get("model") or {}).get("vocab") != []:  # not the layout this reader knows
        return json.loads(text), None, None
    return spec, ids, scores


def _template_ends(post: dict) -> tuple[list[int], list[int]]:
    """The special ids the "single" template puts before and after the sequence."""
    if not post:
        return [], []
    if post.get("type") != "TemplateProcessing":
        raise UnsupportedTokenizer(f"post-processor {post.get('type')}")
    specials = post.get("special_tokens") or {}
    before, after, seen = [], [], False
    for item in post.get("single") or []:
        if "Sequence" in item:
            seen = True
            continue
        name = item["SpecialToken"]["id"]
        (after if seen else before).extend(specials[name]["ids"])
    return before, after


def _text_steps(spec: dict):
    """The file's normaliser and pre-tokeniser (once as written, once with a "first" prepend switched off)."""
    from tokenizers import Tokenizer

    def build(pre_tokenizer) -> Tokenizer:
        stripped = {"version": spec.get("version", "1.0"), "truncation": None, "padding": None, "added_tokens": [],
                    "normalizer": spec.get("normalizer"), "pre_tokenizer": pre_tokenizer, "post_processor": None,
                    "decoder": None,
                    "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]], "byte_fallback": False}}
        return Tokenizer.from_str(json.dumps(stripped))

    pre = spec.get("pre_tokenizer")
    first = build(pre)
    rest = build(_never_prepend(pre)) if pre is not None else first
    return first.normalizer, first.pre_tokenizer, rest.pre_tokenizer


def _never_prepend(node):
    if isinstance(node, dict):
        out = {k: _never_prepend(v) for k, v in node.items()}
        if out.get("type") == "Metaspace" and out.get("prepend_scheme") == "first":
            out["prepend_scheme"] = "never"
        return out
    if isinstance(node, list):
        return [_never_prepend(v) for v in node]
    return node

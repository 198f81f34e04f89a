"""Plain text in UTF-8 (with or without BOM), UTF-16/32 with BOM, GB18030/GBK or Big5.

Also holds the small helpers the other loaders share: `decode` (bytes → text + encoding),
`clean_line` (control characters out), `assign_offsets` and `require_text`.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# A small fallback list of frequent characters (Simplified + Traditional) in case jieba's dictionary is missing.
_COMMON_FALLBACK = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出也得里后自会着去之过家学对可她你年生能而子那"
    "于下发作用道行所然成方多经么前当没看起天都现种只好小部其些主样理心本定还很进法面与问题意点从事关"
    "客户服务请您投诉退款订单快递商品售后处理回复电话联系核实情况原则案例规范注意先再然后需要应该如果"
    "這個們來為國說時後會過學對於發現種樣裡點從關務請訴單遞商處則範應該間資訊統帳號機辦決滿態緒歉償賠"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MIN_CJK_SCORE = 1.5  # below this mean score a GB18030/Big5 reading is not trusted (charset-normalizer decides)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")

# GB-family names charset-normalizer / HTML meta may report; all decoded as GB18030 (a strict superset).
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "euc_cn", "euc-cn", "x-gbk", "gb_2312-80", "ms936"}
_BIG5_FAMILY = {"big5", "cp950", "big5hkscs", "big5-hkscs", "x-big5", "ms950"}


def normalize_encoding_name(name: str) -> str:
    low = name.lower().replace("_", "-") if name else name
    if low in _GB_FAMILY or low.replace("-", "_") in _GB_FAMILY or low.replace("-", "") in {"gb2312", "gbk"}:
        return "gb18030"
    if low in _BIG5_FAMILY or low.replace("-", "") in {"big5", "big5hkscs"}:
        return "big5"
    return name


def _decode_as(raw: bytes, encoding: str) -> str | None:
    if encoding == "big5":
        # cp950 (Microsoft's Big5) is a superset covering characters plain big5 lacks
        for enc in ("big5", "cp950", "big5hkscs"):
            try:
                return raw.decode(enc)
            except (UnicodeDecodeError, LookupError):
                continue
        return None
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


@functools.lru_cache(maxsize=1)
def _char_weights() -> dict[str, float]:
    """log10 frequency of Chinese characters (Simplified and their Traditional forms), from jieba's dictionary.

    Used to choose between GB18030 and Big5 (and UTF-8 on very short inputs) when more than one decodes the
    bytes: the right decoding is made of frequent characters, the wrong one of rare ones, kana, Hangul, PUA…
    """
    counts: Counter[str] = Counter()
    try:
        import importlib.util
        import os

        spec = importlib.util.find_spec("jieba")
        path = os.path.join(os.path.dirname(spec.origin), "dict.txt") if spec and spec.origin else None
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split(" ")
                if len(parts) >= 2 and parts[1].isdigit():
                    fr = int(parts[1])
                    for ch in parts[0]:
                        counts[ch] += fr
    except Exception:
        counts = Counter({c: 10 ** 5 for c in _COMMON_FALLBACK})
    top = counts.most_common(_TOP_CHARS)
    weights = {ch: math.log10(fr + 1) for ch, fr in top}
    simplified = "".join(ch for ch, _ in top)
    try:
        from opencc import OpenCC

        for config in ("s2t", "s2tw", "s2hk"):
            traditional = OpenCC(config).convert(simplified)
            if len(traditional) == len(simplified):
                for sc, tc in zip(simplified, traditional):
                    if tc != sc:
                        weights[tc] = max(weights.get(tc, 0.0), weights[sc])
    except Exception:
        for c in _COMMON_FALLBACK:
            weights.setdefault(c, 5.0)
    return weights


_TOP_CHARS = 5000
_NEUTRAL = re.compile(r"[\x00-\x7f\u3000-\u303f\uff00-\uffef\u2000-\u206f\u00a0-\u00bf\u00d7\u00f7]")


def _cjk_score(text: str) -> float:
    """Mean plausibility of the non-ASCII characters as Chinese: log frequency for Chinese characters,
    0 for rare ones, -3 for anything else (kana, Hangul, Cyrillic, private use …)."""
    weights = _char_weights()
    total, n = 0.0, 0
    for c in text:
        if _NEUTRAL.match(c):
            continue
        n += 1
        if _CJK.match(c):
            total += weights.get(c, 0.0)
        else:
            total -= 3.0
    return total / n if n else 0.0


def looks_binary(text: str) -> bool:
    if not text:
        return False
    if "\x00" in text:
        return True
    bad = len(_CONTROL.findall(text))
    return bad > max(2, len(text) // 200)


def decode(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Return (text, encoding).

    Order: BOM; a declared encoding (HTML meta) if it decodes strictly; UTF-8 (strict); GB18030 vs Big5
    scored on common characters; charset-normalizer; otherwise LoadError.
    """
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(enc), enc
            except UnicodeDecodeError as e:
                raise LoadError(f"文本编码损坏（{enc}）/ broken {enc} text: {e.reason}") from None
    if declared:
        enc = normalize_encoding_name(declared)
        text = _decode_as(raw, enc)
        if text is not None and not looks_binary(text):
            return text, enc
    utf8 = None
    try:
        utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if utf8 is not None:
        # a few GBK/Big5 byte pairs are also valid UTF-8 ("谢谢" in GBK reads as "лл"): only when the UTF-8
        # reading has no Chinese at all is a clearly Chinese GB/Big5 reading preferred
        if utf8.isascii() or _CJK.search(utf8):
            return utf8, "utf-8"
    elif b"\x00" in raw:
        raise LoadError("文件含二进制内容，不是文本 / file looks binary, not text")

    candidates = []
    for enc in ("gb18030", "big5"):
        text = _decode_as(raw, enc)
        if text is not None and not looks_binary(text):
            candidates.append((_cjk_score(text), enc, text))
    candidates.sort(key=lambda c: c[0], reverse=True)
    if utf8 is not None:
        non_ascii = sum(1 for c in utf8 if not c.isascii())
        if (candidates and candidates[0][0] >= 3.0 and candidates[0][0] > _cjk_score(utf8) + 2
                and non_ascii <= 4  # longer valid UTF-8 is UTF-8
                and not re.search(r"[\u00c0-\u024f]", utf8)):  # accented Latin letters: real UTF-8
            return candidates[0][2], candidates[0][1]
        return utf8, "utf-8"
    if candidates and candidates[0][0] >= MIN_CJK_SCORE:
        _, enc, text = candidates[0]
        return text, enc

    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        if candidates and candidates[0][0] > 0:
            _, enc, text = candidates[0]
            return text, enc
        raise LoadError("无法识别文本编码 / cannot detect the text encoding (binary file?)")
    enc = normalize_encoding_name(best.encoding)
    text = _decode_as(raw, enc)
    if text is None:
        text = str(best)
        enc = best.encoding
    return text, enc


def clean_line(s: str) -> str:
    """Control and zero-width characters out, non-breaking/ideographic-free spaces to plain spaces."""
    s = _CONTROL.sub("", s.replace("\t", " "))
    s = _ZERO_WIDTH.sub("", s).replace("\xa0", " ")
    return s


def assign_offsets(blocks: list[Block]) -> list[Block]:
    """Set `start` to each block's offset in SourceDocument.text ('\\n'.join of the block texts)."""
    pos = 0
    for b in blocks:
        b.start = pos
        pos += len(b.text) + 1
    return blocks


def require_text(blocks: list[Block]) -> None:
    if not any(b.text.strip() for b in blocks):
        raise LoadError("文件中没有可提取的文字 / no text found in the file")


def blocks_from_text(text: str) -> list[Block]:
    blocks, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            blocks.append(Block(text=body, start=pos))
        pos += len(line)
    return blocks


def read_source(path: Path, blank_is_empty: bool = True) -> bytes:
    """The file's bytes, or a LoadError for an unreadable or empty file (or a blank one, if asked)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoadError(f"无法读取文件 / cannot read the file: {e}") from None
    if not (raw.strip() if blank_is_empty else raw):
        raise LoadError("空文件 / empty file")
    return raw


def load_txt(path: Path) -> SourceDocument:
    raw = read_source(path, blank_is_empty=False)  # whitespace-only text is reported as "no text" below
    text, encoding = decode(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
    if looks_binary(text):
        raise LoadError("文件含二进制内容，不是文本 / file looks binary, not text")
    blocks = blocks_from_text(text)
    for b in blocks:
        b.text = _CONTROL.sub("", b.text)
    require_text(blocks)
    return SourceDocument(
        path=path, doc_id=path.name, format="txt", title=path.stem,
        blocks=blocks, encoding=encoding,
    )

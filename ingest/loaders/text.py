"""Plain text in UTF-8 (with or without BOM), UTF-16/32 with BOM, GB18030/GBK or Big5.

Also holds the small helpers the other loaders share: `decode` (bytes → text + encoding),
`clean_line` (control characters out), `assign_offsets` and `require_text`.
"""
from __future__ import annotations

import re
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# The most frequent Chinese characters, in Simplified and Traditional form, plus customer-service words.
# Used to choose between GB18030 and Big5 when both decode the bytes: the wrong one yields rare characters
# (and Big5 punctuation decoded as GB lands in the private-use area).
_COMMON_SC = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出也得里后自会着去之过家学对可她你年生能而子那"
    "于下发作用道行所然成方多经么前当没看起天都现种只好小部其些主样理心本定还很进法面与问题意点从事关"
    "客户服务请您投诉退款订单快递商品售后处理回复电话联系核实情况原则案例规范注意先再然后需要应该如果"
    "时间信息系统账号手机办理申请提供解决满意态度耐心安抚情绪道歉补偿赔付门店员工记录反馈工作日内"
    "一二三四五六七八九十百千万元第章节条款项目标准流程说明要求必须禁止可以不能已经正在确认沟通"
)
_COMMON_TC = (
    "這個們來為國說時後會過學對於發現種樣裡點從關務請訴單遞商後處則範應該時間資訊統帳號手機辦申請"
    "決滿態緒歉償賠門員記錄饋內萬條說須禁經確認溝線區廣東臺灣條產買賣價錢寶貝顧問題聯繫實況規範"
)
_COMMON = frozenset(_COMMON_SC + _COMMON_TC)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUA = re.compile(r"[\ue000-\uf8ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")

# GB-family names charset-normalizer / HTML meta may report; all decoded as GB18030 (a strict superset).
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "euc_cn", "euc-cn", "hz", "x-gbk", "gb_2312-80", "ms936"}
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


def _cjk_score(text: str) -> float:
    """How plausible `text` is as Chinese: share of common characters among the CJK ones, PUA penalised."""
    cjk = _CJK.findall(text)
    if not cjk:
        return 0.0
    common = sum(1 for c in cjk if c in _COMMON)
    pua = len(_PUA.findall(text))
    return (common - 3 * pua) / len(cjk)


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
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw:
        raise LoadError("文件含二进制内容，不是文本 / file looks binary, not text")

    candidates = []
    for enc in ("gb18030", "big5"):
        text = _decode_as(raw, enc)
        if text is not None and not looks_binary(text):
            candidates.append((_cjk_score(text), enc, text))
    candidates.sort(key=lambda c: c[0], reverse=True)
    if candidates and candidates[0][0] >= 0.15:
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


def load_txt(path: Path) -> SourceDocument:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoadError(f"无法读取文件 / cannot read the file: {e}") from None
    if not raw:
        raise LoadError("空文件 / empty file")
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

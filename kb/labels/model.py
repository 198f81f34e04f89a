"""A label: an agent's question and what answers it, in the evaluation format (seeds/labels/README.md).

    {"id": "t001", "question": "...", "kind": "principle" | "case" | "oos", "gold": ["evidence phrase", ...], ...}

In-scope labels name the passage that answers by gold phrases (resolved to passages with the evaluation
match rule, kb/labels/resolve.py); out-of-scope labels (kind "oos") say the knowledge base has no answer.
Every field of the object is kept and exported as given; an editor's label also names the passage it was
picked from (`passage_id`).
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from kb.text import match_key

KINDS = ("principle", "case", "oos")
SOURCES = ("import", "editor")
MAX_QUESTION_CHARS = 2000
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class LabelError(ValueError):
    """A label that cannot be stored; the message (中文 / English) says which and why."""


@dataclass(frozen=True)
class Label:
    id: str
    question: str
    kind: str  # principle | case | oos
    gold: tuple[str, ...]
    passage_id: str | None = None  # the passage an editor picked (re-resolved through `gold` after a re-index)
    source: str = "import"  # import | editor
    created_at: float = 0.0  # Unix time
    created_by: str = ""
    item: dict = field(default_factory=dict, compare=False)  # the object as given: exported as it is

    @property
    def in_scope(self) -> bool:
        return self.kind != "oos"

    @property
    def key(self) -> str:
        """The question as compared for "the same question": the match rule's normalisation."""
        return match_key(self.question)

    def same_content(self, other: "Label") -> bool:
        """Equal as an import sees it: same object, same picked passage (times and authors aside)."""
        return self.item == other.item and self.passage_id == other.passage_id

    def to_json(self) -> str:
        return json.dumps(self.item, ensure_ascii=False)


def _fail(where: str, zh: str, en: str) -> LabelError:
    return LabelError(f"{where}: {zh} / {en}" if where else f"{zh} / {en}")


def parse_label(obj, where: str = "", source: str = "import", created_by: str = "",
                created_at: float | None = None) -> Label:
    """A label from one evaluation-format object; LabelError saying what is wrong. Without an "id", the id
    is derived from the content, so importing the same file twice gives the same labels."""
    if not isinstance(obj, dict):
        raise _fail(where, "每行应是一个 JSON 对象", "each line must be a JSON object")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, "缺少问题（question）", "\"question\" must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise _fail(where, f"问题太长（最多 {MAX_QUESTION_CHARS} 字）", f"question longer than {MAX_QUESTION_CHARS} characters")
    if not match_key(question):
        raise _fail(where, "问题没有文字", "the question has no letters or characters")
    kind = obj.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"kind 必须是 {' / '.join(KINDS)}", f"\"kind\" must be one of {', '.join(KINDS)} (got {kind!r})")
    gold = obj.get("gold") or []
    if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
        raise _fail(where, "gold 必须是字符串列表", "\"gold\" must be a list of strings")
    if kind != "oos" and not any(match_key(g) for g in gold):
        raise _fail(where, "范围内的问题需要至少一个证据短语（gold）", "an in-scope label needs at least one \"gold\" phrase")
    if kind == "oos" and any(g.strip() for g in gold):
        raise _fail(where, "范围外（oos）的问题不能有 gold", "an out-of-scope label has no \"gold\" phrases")
    passage_id = obj.get("passage_id")
    if passage_id is not None and (not isinstance(passage_id, str) or not passage_id):
        raise _fail(where, "passage_id 必须是字符串", "\"passage_id\" must be a string")
    label_id = obj.get("id")
    if label_id is None:
        label_id = content_id(question, kind, gold)
    if not isinstance(label_id, str) or not _ID.match(label_id):
        raise _fail(where, "id 只能含字母、数字和 _ . : -（最多 64 个）",
                    f"\"id\" must be 1-64 of letters, digits, _ . : - (got {label_id!r})")
    if source not in SOURCES:
        raise ValueError(f"unknown label source {source!r}")
    return Label(label_id, question.strip(), kind, tuple(g for g in gold if g.strip()), passage_id, source,
                 time.time() if created_at is None else created_at, created_by, dict(obj))


def content_id(question: str, kind: str, gold: list[str]) -> str:
    digest = hashlib.sha1(json.dumps([match_key(question), kind, sorted(gold)], ensure_ascii=False).encode())
    return "q-" + digest.hexdigest()[:12]


def editor_id(question: str) -> str:
    """One editor's label per question (same match key): fixing a question again replaces the first fix."""
    return "e-" + hashlib.sha1(match_key(question).encode()).hexdigest()[:12]


def editor_label(question: str, kind: str, gold: list[str], passage_id: str | None, by: str, note: str = ""
                 ) -> Label:
    """The label an editor's fix in the review queue makes."""
    item = {"id": editor_id(question), "question": question.strip(), "kind": kind, "gold": list(gold)}
    if passage_id:
        item["passage_id"] = passage_id
    if note:
        item["note"] = note
    return parse_label(item, source="editor", created_by=by)


def parse_lines(lines: list[str], where: str) -> list[Label]:
    """Labels from JSONL text, all or none: the first bad line, or a repeated id, raises LabelError."""
    labels: list[Label] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(f"{where}:{n}", "不是 JSON", f"not JSON ({exc.msg})") from None
        label = parse_label(obj, f"{where}:{n}")
        if label.id in seen:
            raise _fail(f"{where}:{n}", f"id {label.id} 与第 {seen[label.id]} 行重复",
                        f"id {label.id} repeats line {seen[label.id]}")
        seen[label.id] = n
        labels.append(label)
    return labels


def read_label_file(path: Path) -> list[Label]:
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"无法读取 {path} / cannot read {path}: {exc}") from None
    labels = parse_lines(text.splitlines(), str(path))
    if not labels:
        raise LabelError(f"{path}: 文件里没有问题 / no questions in the file")
    return labels

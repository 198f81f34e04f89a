"""`run_chat(settings, url)`: a conversation in the terminal, against the local KB in-process or the
HTTP API at `url`. Prints 原则 and 案例 with their sources, keeps the session for follow-ups.

Commands: /new starts a new conversation, /quit (or Ctrl-D) exits, a number asks that suggestion.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable
from typing import Any, TextIO

from kb.settings import Settings

HELP = "输入问题回车发送；/new 新对话；输入序号追问建议；/quit 或 Ctrl-D 退出"


class _Style:
    def __init__(self, enabled: bool):
        self.on = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on else text


def _mark(text: str, highlights: list[str], style: _Style) -> str:
    for h in sorted({h.strip() for h in highlights or [] if h and len(h.strip()) > 1}, key=len, reverse=True):
        if h in text:
            text = text.replace(h, style(h, "1;33") if style.on else f"「{h}」")
    return text


def _without_heading(title: str, text: str) -> str:
    """The passage's text without its first line when that line is the title printed above it."""
    first, sep, rest = text.partition("\n")
    return rest if title and sep and first.strip() == title.strip() else text


def format_answer(ans: dict[str, Any], color: bool = False, width: int | None = None) -> str:
    style = _Style(color)
    width = width or min(100, shutil.get_terminal_size((100, 20)).columns)
    out: list[str] = []

    def block(p: dict[str, Any], n: int) -> None:
        title = p.get("title") or ""
        out.append(f" {n}. " + style(title, "1"))
        text = _mark(_without_heading(title, p.get("text", "")), p.get("highlights", []), style)
        for para in text.splitlines():
            out.extend(textwrap.wrap(para, width=width - 4, initial_indent="    ", subsequent_indent="    ") or [""])
        src = " › ".join(x for x in (p.get("doc_title") or p.get("doc"), p.get("section_path")) if x)
        out.append(style(f"    —— 出处：{src}", "2"))

    n = 0
    if ans.get("matched"):
        if ans.get("principles"):
            out.append(style("【原则】", "1;36"))
            for p in ans["principles"]:
                n += 1
                block(p, n)
        if ans.get("cases"):
            out.append(style("【案例】", "1;35"))
            for p in ans["cases"]:
                n += 1
                block(p, n)
        out.append(style(f"（置信度 {round(100 * float(ans.get('confidence') or 0))}%）", "2"))
    else:
        out.append(style("没有找到：知识库里没有相关内容。", "1;31"))
        near = (ans.get("passages") or [])[:2]
        if near:
            out.append(style("最接近的内容（仅供参考）：", "2"))
            for p in near:
                n += 1
                block(p, n)
    sugg = ans.get("suggestions") or []
    if sugg:
        out.append(style("你可能还想问：", "2") + "  ".join(f"[{i}] {s}" for i, s in enumerate(sugg, 1)))
    return "\n".join(out)


class _LocalBackend:
    def __init__(self, settings: Settings):
        from kb.knowledge_base import KnowledgeBase
        from kb.state import open_content

        self.content = open_content(settings)
        try:
            self.kb = KnowledgeBase.open(settings, content=self.content)
        except BaseException:
            self.content.close()
            raise
        self.top_k = settings.top_k

    def ask(self, question: str, session_id: str | None) -> dict[str, Any]:
        return self.kb.ask(question, top_k=self.top_k, session_id=session_id).model_dump(mode="json")

    def close(self) -> None:
        self.kb.close()
        self.content.close()


class _HttpBackend:
    def __init__(self, url: str, client: Any | None = None):
        import httpx

        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=60)

    def ask(self, question: str, session_id: str | None) -> dict[str, Any]:
        r = self.client.post("/v1/ask", json={"question": question, "session_id": session_id})
        if r.status_code >= 400:
            try:
                data = r.json()
                detail = data.get("message") or data.get("detail")
            except ValueError:
                detail = r.text
            if isinstance(detail, list):
                detail = "; ".join(d.get("msg", "") for d in detail)
            raise RuntimeError(f"HTTP {r.status_code}: {detail}")
        return r.json()

    def close(self) -> None:
        self.client.close()


def run_chat(
    settings: Settings | None = None,
    url: str | None = None,
    *,
    input_fn: Callable[[str], str] = input,
    out: TextIO | None = None,
    http_client: Any | None = None,
) -> int:
    """The conversation loop; returns an exit code."""
    out = out or sys.stdout
    color = bool(getattr(out, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")
    style = _Style(color)
    settings = settings or Settings()
    try:
        backend = _HttpBackend(url, http_client) if (url or http_client) else _LocalBackend(settings)
    except Exception as e:  # noqa: BLE001 - shown to the user as one line
        print(f"无法打开知识库 / cannot open the knowledge base: {type(e).__name__}: {e}", file=out)
        return 1
    print(style("坐席知识库助手", "1") + "  " + style(HELP, "2"), file=out)
    session_id: str | None = None
    suggestions: list[str] = []
    try:
        while True:
            try:
                line = input_fn(style("问> ", "1;34")).strip()
            except (EOFError, KeyboardInterrupt):
                print(file=out)
                return 0
            if not line:
                continue
            if line in ("/quit", "/exit", "/q"):
                return 0
            if line in ("/new", "/reset"):
                session_id, suggestions = None, []
                print(style("（已开始新对话）", "2"), file=out)
                continue
            if line in ("/help", "?"):
                print(HELP, file=out)
                continue
            if line.isdigit() and 1 <= int(line) <= len(suggestions):
                line = suggestions[int(line) - 1]
                print(style(f"→ {line}", "2"), file=out)
            if len(line) > settings.max_question_chars:
                print(f"问题太长：最多 {settings.max_question_chars} 个字", file=out)
                continue
            try:
                ans = backend.ask(line, session_id)
            except Exception as e:  # noqa: BLE001
                print(style(f"出错了：{e}", "31"), file=out)
                continue
            session_id = ans.get("session_id") or session_id
            suggestions = list(ans.get("suggestions") or [])
            print(format_answer(ans, color=color), file=out)
            print(file=out)
    finally:
        backend.close()

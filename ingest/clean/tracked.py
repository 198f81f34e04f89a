"""A string plus, for each of its characters, the offset of the source character it came from: every
repair edits text through it, so passages can always point back into the extracted source."""
from __future__ import annotations


class TrackedText:
    """A string plus the source offset of each of its characters."""

    __slots__ = ("text", "pos")

    def __init__(self, text: str, pos: list[int]):
        self.text = text
        self.pos = pos

    def __len__(self) -> int:
        return len(self.text)

    def slice(self, a: int, b: int) -> "TrackedText":
        return TrackedText(self.text[a:b], self.pos[a:b])

    def drop_spans(self, spans: list[tuple[int, int]]) -> "TrackedText":
        if not spans:
            return self
        keep_t, keep_p, last = [], [], 0
        for a, b in sorted(spans):
            if a < last:
                a = last
            keep_t.append(self.text[last:a])
            keep_p.extend(self.pos[last:a])
            last = max(last, b)
        keep_t.append(self.text[last:])
        keep_p.extend(self.pos[last:])
        return TrackedText("".join(keep_t), keep_p)

    def strip(self) -> "TrackedText":
        t = self.text
        a, b = 0, len(t)
        while a < b and t[a].isspace():
            a += 1
        while b > a and t[b - 1].isspace():
            b -= 1
        return self.slice(a, b)

    @staticmethod
    def join(parts: list["TrackedText"], sep: str = "") -> "TrackedText":
        text, pos = [], []
        for i, p in enumerate(parts):
            if i and sep:
                text.append(sep)
                anchor = p.pos[0] if p.pos else (pos[-1] if pos else 0)
                pos.extend([anchor] * len(sep))
            text.append(p.text)
            pos.extend(p.pos)
        return TrackedText("".join(text), pos)

"""Short conversation memory, so a follow-up ("那如果客户还是不满意呢？", "有没有案例？") is read in the
context of the previous question. Sessions expire after a TTL and the store is bounded (LRU)."""
from __future__ import annotations

import re
import threading
import time
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

# Openers and fragments that lean on what was said before.
_FOLLOW_UP = re.compile(
    r"^(那|那么|那如果|如果|要是|还有|另外|然后|再|还|其他|其它|同样|这种|那种|这个|那个|这样|上面|刚才|它|他|她|该|此)"
    r"|(呢|吗)[?？]?$|^(有没有|有无|能不能|可不可以|举个|给个|换个|再来)")
MAX_CONTEXT_CHARS = 160
_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Turn:
    question: str
    resolved: str  # the question as searched (with context merged in)
    passage_ids: list[str]


@dataclass
class Session:
    id: str
    turns: list[Turn] = field(default_factory=list)
    touched: float = field(default_factory=time.monotonic)


class SessionStore:
    def __init__(self, ttl_seconds: int = 1800, max_sessions: int = 10_000, max_turns: int = 4):
        self.ttl = ttl_seconds
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> Session:
        """The live session with that id, or a new one (unknown, expired or malformed ids start afresh)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            s = self._sessions.get(session_id) if session_id else None
            if s is not None and now - s.touched > self.ttl:
                del self._sessions[s.id]
                s = None
            if s is None:
                sid = session_id if session_id and _ID_OK.match(session_id) else secrets.token_hex(16)
                s = Session(sid)
                self._sessions[sid] = s
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            s.touched = now
            self._sessions.move_to_end(s.id)
            return s

    def record(self, session: Session, turn: Turn) -> None:
        with self._lock:
            session.turns.append(turn)
            del session.turns[: -self.max_turns]

    def _expire(self, now: float) -> None:
        while self._sessions:
            sid, s = next(iter(self._sessions.items()))
            if now - s.touched <= self.ttl:
                break
            del self._sessions[sid]


def is_follow_up(question: str, content_words: int) -> bool:
    """A question that cannot stand on its own: a follow-up opener, or almost no content words."""
    q = question.strip()
    return bool(_FOLLOW_UP.search(q)) and content_words <= 6 or content_words <= 1


def resolve(session: Session, question: str, content_words: int) -> str:
    """The text to search for: the question alone, or merged with the previous question."""
    if not session.turns or not is_follow_up(question, content_words):
        return question
    context = session.turns[-1].resolved[-MAX_CONTEXT_CHARS:]  # a long chain of follow-ups stays bounded
    return f"{context} {question}"

"""Short conversation memory, so a follow-up ("那如果客户还是不满意呢？", "有没有案例？") is read in the
context of the previous question: what a conversation is, and whether a question leans on the one before.
Where conversations are kept is a `SessionStore`'s business (kb/state)."""
from __future__ import annotations

import re
import secrets
import time
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
    touched: float = field(default_factory=time.monotonic)  # when last used (the in-memory store's clock)


def new_session_id(requested: str | None) -> str:
    """The id a new conversation gets: the one the client asked for when it is well-formed, else a random
    one (a malformed id never reaches a store)."""
    return requested if requested and _ID_OK.match(requested) else secrets.token_hex(16)


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

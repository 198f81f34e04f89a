"""The unit an agent reads, as stored in a KB version."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

KINDS = ("principle", "case", "other")
SECTION_SEP = " > "


@dataclass
class Passage:
    id: str  # stable across re-ingests: document id + content hash
    doc_id: str
    doc_title: str
    section: list[str]  # heading path, outermost first
    kind: str  # principle | case | other
    title: str  # the passage's own heading (a case's title)
    text: str  # display text, in the document's own script
    search_text: str  # normalised: Simplified, folded, lower-case
    start: int  # offsets into the extracted source text
    end: int
    page: int | None = None
    content_hash: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def section_path(self) -> str:
        return SECTION_SEP.join(self.section)


def content_hash(title: str, section: list[str], text: str) -> str:
    """Hash of what is embedded: a passage whose hash is unchanged is never re-embedded."""
    h = hashlib.sha256()
    for part in (title, SECTION_SEP.join(section), text):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def passage_id(doc_id: str, chash: str, occurrence: int) -> str:
    digest = hashlib.sha1(f"{doc_id}\x1f{chash}\x1f{occurrence}".encode()).hexdigest()
    return digest[:16]

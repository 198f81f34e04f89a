"""`split_document(doc)`: the units of a cleaned document, kinds settled, tiny units merged with their
siblings, long ones cut, as passage drafts; those with nothing an agent could use are set apart as junk."""
from __future__ import annotations

from dataclasses import dataclass, field

from ingest.clean import CleanedDocument
from ingest.split.headings import is_list_item
from ingest.split.junk import Junk, document_headings, junk_reason
from ingest.split.kinds import KIND_CASE, KIND_OTHER, OTHER_WORDS, is_closing, names_other
from ingest.split.pieces import Piece, chunk, lay_out
from ingest.split.sizes import CASE_MAX_CHARS, CASE_PART_CHARS, MAX_CHARS, MERGE_CHARS, MIN_CHARS, TARGET_CHARS
from ingest.split.units import Unit, units
from kb.text import match_key, to_simplified

DIVIDER_CHARS = 40  # a heading-only unit up to this size is a divider, carried into the next unit
MERGED_TITLE_CHARS = 50  # merged siblings' titles are joined ("A；B") while shorter than this


@dataclass
class PassageDraft:
    title: str  # the passage's own heading (a case's title)
    section: list[str]  # heading path, outermost first (ends with the passage's own heading)
    kind: str  # principle | case | other
    text: str  # display text, in the document's own script
    start: int  # offsets into the extracted source text
    end: int
    page: int | None = None
    # where in `text` a line break only lays out a slide's items (slides.py): what is indexed leaves them out
    item_breaks: list[int] = field(default_factory=list)


def _unit_kind(u: Unit, has_headings: bool) -> str:
    """Closing slides and front/back matter are "other", cases stay cases, text before the first heading
    of a document with headings is "other"."""
    if is_closing(u.title):
        return KIND_OTHER
    if u.kind == KIND_CASE:
        return KIND_CASE
    if any(names_other(s) for s in u.section[-2:]) or names_other(u.title):
        return KIND_OTHER
    body = u.pieces[1:] if u.heading_rank is not None else u.pieces
    if body and OTHER_WORDS.match(to_simplified(body[0].text.strip())):
        return KIND_OTHER
    if u.front and has_headings:
        return KIND_OTHER
    return u.kind


def _carry_dividers(units: list[Unit]) -> list[Unit]:
    """A unit that is only its heading (a chapter divider) is carried into the next unit of its subtree."""
    carried: list[Unit] = []
    for u in units:
        prev = carried[-1] if carried else None
        if (prev is not None and prev.heading_rank is not None and len(prev.pieces) == 1
                and prev.size <= DIVIDER_CHARS and u.section[: len(prev.section)] == prev.section and u is not prev):
            u.pieces = prev.pieces + u.pieces
            carried[-1] = u
            continue
        carried.append(u)
    return carried


def _stands_alone(u: Unit) -> bool:
    """A list item (法则N, (1), …) with a body of its own: never merged with a sibling."""
    if u.heading_rank is None or not is_list_item(u.heading_rank):
        return False
    return len(u.pieces) >= 2 or len(u.pieces[0].text.strip()) > len(u.title)


def _is_child(u: Unit, parent: Unit) -> bool:
    return len(u.section) > len(parent.section) and u.section[: len(parent.section)] == parent.section


def _merge_tiny(units: list[Unit]) -> list[Unit]:
    """Tiny principle/other units merged with the following sibling or child (same kind, same parent
    path), and tiny ones with the unit before them. A list item with its own body is never merged with a
    sibling (a tiny intro still takes its first child)."""
    merged: list[Unit] = []
    for u in units:
        prev = merged[-1] if merged else None
        if prev is not None and (_stands_alone(prev) or _stands_alone(u)) and not _is_child(u, prev):
            merged.append(u)
            continue
        if (prev is not None and prev.kind == u.kind and u.kind != KIND_CASE and prev.size < MIN_CHARS
                and prev.size + u.size <= MERGE_CHARS
                and u.section[: max(0, len(prev.section) - 1)] == prev.section[: max(0, len(prev.section) - 1)]):
            if u.section[: len(prev.section)] == prev.section:
                # a tiny intro followed by its first child: the child's path, the parent's text first
                prev.section = list(u.section)
                prev.title = u.title if prev.size < DIVIDER_CHARS else prev.title
            else:
                prev.section = prev.section[:-1] if len(prev.section) > 1 else prev.section
                if (u.title not in prev.title and prev.title.count("；") < 2
                        and len(prev.title) + len(u.title) < MERGED_TITLE_CHARS):
                    prev.title = f"{prev.title}；{u.title}"
            prev.pieces.extend(u.pieces)
            continue
        if (prev is not None and u.kind == prev.kind and u.kind != KIND_CASE and u.size < MIN_CHARS
                and prev.size + u.size <= MERGE_CHARS and u.section[:-1] == prev.section[: len(u.section) - 1]
                and len(u.section) >= len(prev.section)):
            prev.pieces.extend(u.pieces)
            continue
        merged.append(u)
    return merged


def _draft(u: Unit, pieces: list[Piece], prefix: str = "") -> PassageDraft:
    text, breaks = lay_out(pieces)
    if prefix and not text.startswith(prefix):
        text = prefix + "\n" + text
        breaks = [b + len(prefix) + 1 for b in breaks]
    return PassageDraft(
        title=u.title, section=list(u.section), kind=u.kind, text=text,
        start=min(p.start for p in pieces), end=max(p.end for p in pieces),
        page=next((p.page for p in pieces if p.page is not None), None), item_breaks=breaks,
    )


def _drafts(u: Unit) -> list[PassageDraft]:
    """A case whole up to CASE_MAX_CHARS, else in parts that repeat its title; other units whole up to
    MAX_CHARS, else cut near TARGET_CHARS."""
    if u.kind == KIND_CASE:
        if u.size <= CASE_MAX_CHARS:
            return [_draft(u, u.pieces)]
        return [_draft(u, part, prefix=u.title if k else "")
                for k, part in enumerate(chunk(u.pieces, CASE_PART_CHARS, CASE_PART_CHARS))]
    if u.size <= MAX_CHARS:
        return [_draft(u, u.pieces)]
    return [_draft(u, part) for part in chunk(u.pieces, TARGET_CHARS, MAX_CHARS)]


def _heading_names(u: Unit) -> list[str]:
    """The headings a unit names: its section path and its title, except a title made up from the text
    itself (a slide's, ending its section path; a story's)."""
    if u.story:
        return list(u.section)
    if u.heading_rank is None and u.pieces and u.pieces[0].slide:
        return u.section[:-1]
    return [*u.section, u.title]


@dataclass
class Split:
    passages: list[PassageDraft]  # what is indexed
    junk: list[Junk]  # passages with nothing an agent could use (junk.py), left out and reported


def split_document(doc: CleanedDocument) -> Split:
    found = [u for u in units(doc) if u.pieces and match_key(lay_out(u.pieces)[0])]
    has_headings = any(u.heading_rank is not None for u in found)
    for u in found:
        u.kind = _unit_kind(u, has_headings)
    headings = document_headings([doc.title, *(name for u in found for name in _heading_names(u))])
    drafts = [d for u in _merge_tiny(_carry_dividers(found)) for d in _drafts(u)]
    drafts = [d for d in drafts if match_key(d.text)]
    kept, junk = [], []
    for d in drafts:
        reason = junk_reason(d.text, headings)
        if reason is None:
            kept.append(d)
        else:
            junk.append(Junk(text=d.text, reason=reason, title=d.title, start=d.start, end=d.end))
    return Split(kept, junk)


def split(doc: CleanedDocument) -> list[PassageDraft]:
    """The passages worth indexing (`split_document` also says which were left out as junk)."""
    return split_document(doc).passages

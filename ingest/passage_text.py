"""What each index sees of a passage: the printed text (indexes), the model's input (dense), the keyword text
(BM25)."""
from __future__ import annotations

from ingest.split.slides import printed
from kb.passage import Passage
from kb.text import search_text, to_simplified


def indexed_text(p: Passage) -> str:
    """The passage text the indexes see: as the source printed it, without the line breaks that only lay
    out a slide's items (`item_breaks`, ingest/split/slides.py)."""
    return printed(p.text, p.extra.get("item_breaks", []))


def embed_input(p: Passage) -> str:
    """What the model sees: Simplified text led by the document title and the full heading path (and the
    case title), which give a short passage its context. Queries are folded to Simplified too."""
    head = [p.doc_title, *p.section]
    text = indexed_text(p)
    if p.title and p.title not in head and not text.startswith(p.title):
        head.append(p.title)
    return to_simplified(f"{' > '.join(h for h in head if h)}\n{text}")


def keyword_text(p: Passage) -> str:
    """What BM25 sees: the passage with its title and heading path (headings are strong evidence)."""
    return search_text(" ".join([*p.section, p.title, indexed_text(p)]))

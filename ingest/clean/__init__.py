"""Cleaning: keep what a document says, drop what the scraper added.

`clean(doc)` turns a loader's `SourceDocument` into a `CleanedDocument`; one module per repair:

* width.py - NFKC width folding, blanks squeezed;
* pinyin.py - pinyin junk "服務(wù)" (parentheses holding only Latin letters) removed;
* mojibake.py - mojibake runs ("?蛻粼谧畛蹩创": GBK/UTF-8 double-decoding garbage, with the '?' that opens
  them unless a question was asked), detected with a word/character frequency model (jieba's dictionary),
  kept out of the text; script.py tells it which script the document is in;
* site_chrome.py with boilerplate.py and title.py - site boilerplate (download/copyright notices,
  上传人/文档编号 lines, "第N页 / 共N页" lists, repeated "…_第3頁" titles, ads, QQ lines, "相关文档", comment
  boxes, …) removed line by line, plus the footer zone that follows a strong footer marker;
* slides.py - run-together slide decks ("…服务创造价值1华夏基石…": slide numbers glued to the text, each
  slide followed by a truncated repeat of itself) cut back into one block per slide, repeats and running
  section labels removed, duplicated slides dropped;
* page_chunks.py - page-chunk numbering ("1、第1章 …,…" / "2、…": a web viewer's page chunks, cut
  mid-sentence) removed and the chunks re-joined; comma-separated text boxes split where a heading starts;
* wrapped.py - hard-wrapped lines (fixed-width line breaks mid-sentence) re-joined.

lines.py runs the per-line repairs on one line; cleaner.py composes them all with the report.

Display text stays in the document's own script (Traditional stays Traditional). Every cleaned block keeps,
for every character, its offset into the extracted source text (tracked.py), so passages can point back to
the source.
"""
from ingest.clean.cleaned import CleanedBlock, CleanedDocument, CleanReport
from ingest.clean.cleaner import clean
from ingest.clean.mojibake import find_mojibake
from ingest.clean.script import is_traditional
from ingest.clean.title import clean_title

__all__ = ["clean", "CleanedBlock", "CleanedDocument", "CleanReport", "find_mojibake", "is_traditional",
           "clean_title"]

"""Splitting a cleaned document into passages along its own structure.

headings.py finds headings: from the format (`Block.heading`: docx styles, <h2>, markdown '#', slide
titles) or from the text's numbering (第N篇/章/节, 一、, (一), 1.1 / 1.1.1, 1. / 1、, 法则N, (1), indented
short lines), each with a named rank. units.py walks the blocks once and groups them into units under
their heading path; running headers that repeat a heading already on the path ("1.1 认识客户服务" printed on
every slide) are ignored. kinds.py says what is a case: 【案例】 blocks, 案例导入, 案例:…, stories under a
案例 heading, and narrative paragraphs become their own passages, whole where possible; slides.py handles
the slides of run-together decks. splitter.py merges tiny fragments with their section siblings (a list
item with a body of its own stands alone) and cuts long sections at paragraph, then sentence boundaries
(pieces.py, sizes.py). junk.py sets apart passages with nothing an agent could use (謝謝!, a heading
with no body, 题目:… lines), for the ingest report.
"""
from ingest.split.junk import Junk
from ingest.split.splitter import PassageDraft, Split, split, split_document

__all__ = ["split", "split_document", "PassageDraft", "Split", "Junk"]

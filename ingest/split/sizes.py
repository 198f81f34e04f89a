"""Passage sizes, in characters of display text."""
MIN_CHARS = 50  # smaller principle/other units are merged with siblings (a 法则 or list item stands alone)
TARGET_CHARS = 300  # aim for this when a long section has to be cut
MAX_CHARS = 450  # principle/other passages longer than this are cut
MERGE_CHARS = 300  # tiny units are merged with siblings up to this size
CASE_MAX_CHARS = 1200  # a case longer than this is cut at paragraph boundaries (title repeated)
CASE_PART_CHARS = 800
SLIDE_RUN_SLACK = 200  # consecutive slides of one topic are joined up to MAX_CHARS + this

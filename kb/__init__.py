"""The knowledge base: passage store, dense + BM25 indexes, hybrid search and answer composition.

`kb` depends on neither `ingest` nor `bot`; both of them build on it.
"""

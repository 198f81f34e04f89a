"""The knowledge base: passage store, dense + BM25 indexes, hybrid search and answer composition.

`kb` depends on neither `ingest` nor `bot`; both of them build on it. Importing it first switches off
the telemetry and downloads of the ML libraries it uses (kb/offline.py).
"""
from kb import offline as _offline

_offline.apply()

"""The service shell: HTTP API, agents' chat page, embeddable widget, editors' admin, terminal chat.

`bot` builds on `kb` (answers) and `ingest` (re-index); neither of them imports `bot`.
"""

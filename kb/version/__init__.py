"""A KB version is a directory with a manifest; this package is the only code that writes or reads one.

    versions/<id>/            a published version: its files (contents.py) and manifest.json (manifest.py)
    versions/CURRENT          the published id (store.py: build folders, publishing, cleanup)

`ingest` builds a `VersionContent` and calls `write_contents`, then `VersionStore.publish`; `KnowledgeBase`
opens one through `VersionFolder` and `read_manifest`.
"""
from kb.version.contents import SearchParts, VersionContent, VersionFolder, write_contents
from kb.version.manifest import MANIFEST, Counts, Manifest, read_manifest, write_manifest
from kb.version.store import CURRENT, NoVersionError, VersionStore

__all__ = ["CURRENT", "MANIFEST", "Counts", "Manifest", "NoVersionError", "SearchParts", "VersionContent",
           "VersionFolder", "VersionStore", "read_manifest", "write_contents", "write_manifest"]

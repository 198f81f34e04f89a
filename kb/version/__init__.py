"""A KB version is a directory with a manifest; this package is the only code that writes or reads one.

    versions/<id>/            a complete version: its files (contents.py) and manifest.json (manifest.py)
    versions/.build-<id>/     a version being built (store.py: build folders, sealing, cleanup)

Which model a version's vectors come from (the base model or one tuned on the labels) is model.py's rule.

`ingest` builds a `VersionContent`, calls `write_contents`, and hands the folder to the version registry
(kb/state), which publishes it; `KnowledgeBase` opens one through `VersionFolder` and `read_manifest`.
"""
from kb.version.contents import SearchParts, VersionContent, VersionFolder, write_contents
from kb.version.manifest import MANIFEST, Counts, Manifest, read_manifest, write_manifest
from kb.version.model import BuildModel, VersionModelError, model_for_build, model_for_version, tuned_record
from kb.version.store import BUILD_PREFIX, LocalVersions, NoVersionError, fsync_dir

__all__ = ["BUILD_PREFIX", "MANIFEST", "BuildModel", "Counts", "LocalVersions", "Manifest", "NoVersionError",
           "SearchParts", "VersionContent", "VersionFolder", "VersionModelError", "fsync_dir", "model_for_build",
           "model_for_version", "read_manifest", "tuned_record", "write_contents", "write_manifest"]

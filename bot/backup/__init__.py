"""`kb backup FILE` and `kb restore FILE`: the whole state of a deployment in one archive, taken while the
service runs, restored into an empty data folder.

    items.py    the one list of what is backed up (add every new store there) and what is not
    archive.py  writing the archive (SQLite's backup API for consistent snapshots), checking and restoring it
"""

"""`kb backup FILE` and `kb restore FILE`: the whole state of a deployment in one archive, taken while the
service runs, restored into an empty data folder, or with KB_DATABASE_URL into an empty database.

    tarball.py      the archive file of both backends: a tar.gz, manifest.json naming the backend and every
                    file's size and SHA-256; unpacking and checking one
    items.py        the one list of what a data folder's backup holds (add every new store there) and what not
    archive.py      the data folder's backup (SQLite's backup API for consistent snapshots), checked and restored
    pg_archive.py   the database's backup: pg_dump in a snapshot its row counts share, pg_restore into an empty
                    database and every table's rows checked
    pg_programs.py  finding pg_dump and pg_restore (their version against the server's), running them
"""

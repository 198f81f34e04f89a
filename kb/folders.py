"""Folders several processes share: one written beside its destination and moved into place whole, so that an
interrupted writer never leaves a half folder where readers look (the ONNX export, a tuned model, a model
fetched from the database), and the flock that keeps a folder's writers and cleaners apart."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def writer_gone(pid: str) -> bool:
    """Whether the process a leftover's name gives (`pid`, as written in it) has ended; False while it runs, and
    for a name that gives no pid or a process this user may not signal (kept rather than removed)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return False


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def written_in_place(dest: Path, tmp: Path | None = None) -> Iterator[Path]:
    """`with written_in_place(dest) as tmp:` the block writes into `tmp` (a new hidden sibling,
    `.<name>.tmp-XXXX`, unless given); when it ends, `tmp` replaces `dest` (an existing one is removed first)
    and the move is synced. An exception removes `tmp` and leaves `dest` as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if tmp is None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from a service running as another user
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """`with file_lock(path) as mine:` an exclusive flock on `path` (created, with its folder) for the block;
    with wait=False `mine` is False at once when another open file holds it (another process, or another
    lock of this one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

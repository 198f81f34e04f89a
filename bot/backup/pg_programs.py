"""PostgreSQL's client programs for `kb backup` / `kb restore` (pg_dump, pg_restore): found on PATH or in
/usr/lib/postgresql/*/bin (where Debian installs each major version), the newest taken, since a newer pg_dump
dumps an older server but never the reverse, and a newer pg_restore reads an older dump. They are run with the
URL's password in their environment, never on their command line, where any user's `ps` shows it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.backup.tarball import BackupError

LIB_ROOT = Path("/usr/lib/postgresql")
VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
VERSION_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Program:
    path: str
    version: str  # as the program prints it: "15.18"
    major: int


@dataclass(frozen=True)
class Connection:
    """How a client program reaches the database of a URL, without the password in sight."""

    conninfo: str  # libpq's key=value form of the URL, its password left out
    env: dict[str, str]  # the process environment, with PGPASSWORD when the URL has a password
    label: str  # user@host:port/database, for messages and the manifest


def connection(url: str) -> Connection:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    label = (f"{params.get('user', '')}@{params.get('host', '')}:{params.get('port', '')}"
             f"/{params.get('dbname', '')}")
    return Connection(make_conninfo(**params), env, label)


def _version_of(path: str) -> Program | None:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError):
        return None
    m = VERSION.search(done.stdout)
    if done.returncode != 0 or m is None:
        return None
    return Program(path, m.group(0).split()[-1], int(m.group(1)))


def _candidates(name: str, search_path: str | None, lib_root: Path) -> list[str]:
    """The programs called `name`: the one on PATH first, then Debian's, newest major version first."""
    found = [shutil.which(name, path=search_path)]
    folders = sorted(lib_root.glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                     reverse=True)
    found += [str(folder / name) for folder in folders if (folder / name).is_file()]
    unique, seen = [], set()
    for path in found:
        if path and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            unique.append(path)
    return unique


def newest(name: str, at_least: int, needed_for: tuple[str, str], search_path: str | None = None,
           lib_root: Path = LIB_ROOT) -> Program:
    """The newest `name` installed; BackupError when there is none, or when it is older than major version
    `at_least`. `needed_for` names whose version that is, in Chinese and in English, for the message."""
    programs = [p for p in (_version_of(path) for path in _candidates(name, search_path, lib_root)) if p]
    client_package = f"Debian/Ubuntu: apt-get install postgresql-client-{at_least}"
    if not programs:
        raise BackupError(f"找不到 PostgreSQL 的 {name} / PostgreSQL's {name} was not found (looked on PATH and in "
                          f"{lib_root}/*/bin): install PostgreSQL's client programs of version {at_least} or newer "
                          f"({client_package})")
    best = max(programs, key=lambda p: p.major)  # the first of the newest: PATH's when it is as new
    if best.major < at_least:
        raise BackupError(f"{name} {best.version} 比{needed_for[0]}旧，无法使用 / {name} {best.version} ({best.path}) "
                          f"is older than {needed_for[1]} (version {at_least}) and cannot work with it: install "
                          f"PostgreSQL's client programs of version {at_least} or newer ({client_package})")
    return best


def run(program: Program, args: list[str], via: Connection) -> None:
    """Run `program` with `args` against the connection's database; BackupError with its message if it fails."""
    done = subprocess.run([program.path, *args, "--no-password", f"--dbname={via.conninfo}"], env=via.env,
                          capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        name = Path(program.path).name
        raise BackupError(f"{name} 失败 / {name} failed (exit status {done.returncode}) on {via.label}:\n"
                          f"{done.stderr.strip()[-3000:]}")

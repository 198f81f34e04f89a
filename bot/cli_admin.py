"""`kb user add|list|passwd|disable|enable` and `kb backup FILE` / `kb restore FILE`: the commands an
operator runs on the server (bot/cli.py adds them to its parser). They work while the service runs.

`kb backup` and `kb restore` archive the state of the backend KB_DATABASE_URL chooses: the data folder
(bot/backup/archive.py) or, with KB_DATABASE_URL set, the database through pg_dump and pg_restore
(bot/backup/pg_archive.py; the data folder is then only a cache and is not backed up).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from bot.auth.roles import ROLES


def _records(args):
    from bot.cli import _settings
    from bot.state import open_app_state

    return open_app_state(_settings(args))


def _audit(records, action: str, target: str) -> None:
    import time

    from bot.state.access import AuditEntry

    records.audit.append(AuditEntry(time.time(), f"cli:{getpass.getuser()}", "admin", "local", action, target, 0, {}))


def _new_password(args) -> str | None:
    """None: make a random one. Otherwise typed twice at a terminal, or one line on standard input."""
    if args.random:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass("新密码 / new password: ")
        if first != getpass.getpass("再输一次 / again: "):
            raise ValueError("两次输入的密码不一致 / the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user(args) -> int:
    from bot.auth.accounts import add_account, change_account
    from bot.state.access import AlreadyExists

    records = _records(args)
    try:
        if args.user_command == "list":
            for a in records.accounts.list():
                last = datetime.fromtimestamp(a.last_login).isoformat(" ", "minutes") if a.last_login else "-"
                print(f"{a.name:<24} {a.role:<7} {'disabled' if a.disabled else 'enabled':<8} last sign-in {last}")
            return 0
        if args.user_command == "add":
            password = sys.stdin.readline().rstrip("\n") if args.stdin else None
            account, generated = add_account(records, args.name, args.role, password)
            _audit(records, "cli user add", account.name)
            print(f"已创建 / created: {account.name} ({account.role})")
        elif args.user_command == "passwd":
            password = _new_password(args)
            generated = None
            if password is None:
                from bot.auth.passwords import new_password

                password = generated = new_password()
            change_account(records, args.name, password=password)
            _audit(records, "cli user passwd", args.name)
            print(f"已设置新密码，原有登录已失效 / new password set; the account's sessions were ended: {args.name}")
        else:  # disable / enable
            change_account(records, args.name, disabled=args.user_command == "disable")
            _audit(records, f"cli user {args.user_command}", args.name)
            print(f"{args.user_command}d: {args.name}")
            return 0
        if generated:
            print(f"密码 / password: {generated}")
        return 0
    except (ValueError, LookupError, AlreadyExists) as e:
        print(f"error: {e.args[0] if isinstance(e, LookupError) else e}", file=sys.stderr)
        return 2
    finally:
        records.close()


def cmd_backup(args) -> int:
    from bot.backup import archive, pg_archive
    from bot.backup.tarball import BackupError
    from bot.cli import _settings
    from kb.state import POSTGRESQL, backend, database_url

    settings = _settings(args)
    started = time.monotonic()
    try:
        if backend(settings) == POSTGRESQL:
            manifest = pg_archive.backup(database_url(settings), Path(args.file))
        else:
            manifest = archive.backup(settings.root, Path(args.file))
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = os.path.getsize(args.file)
    source = manifest.get("database") or manifest["data_dir"]
    print(f"backup written: {args.file} ({size / 1e6:.1f} MB, {len(manifest['files'])} files, "
          f"{time.monotonic() - started:.1f} s) of {source}")
    print(json.dumps(manifest["counts"], ensure_ascii=False, indent=1))
    return 0


def cmd_restore(args) -> int:
    from bot.backup import archive, pg_archive
    from bot.backup.tarball import BackupError
    from bot.cli import _settings
    from kb.state import POSTGRESQL, backend, database_url

    settings = _settings(args)
    started = time.monotonic()
    on_database = backend(settings) == POSTGRESQL
    try:
        if on_database:
            manifest = pg_archive.restore(Path(args.file), database_url(settings), settings.root)
        else:
            manifest = archive.restore(Path(args.file), settings.root)
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    into = pg_archive.connection(database_url(settings)).label if on_database else settings.root
    print(f"restored into {into} in {time.monotonic() - started:.1f} s: every file and "
          f"{'every table' if on_database else 'count'} checked against the manifest")
    print(json.dumps(manifest["counts"], ensure_ascii=False, indent=1))
    missing = pg_archive.migrations_missing(manifest) if on_database else []
    if missing:
        print(f"the archive's schema lacks migrations {missing} of this build: run `kb migrate` before starting "
              "the service")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("user", help="accounts of the admin page: add, list, passwd, disable, enable")
    users = s.add_subparsers(dest="user_command", required=True)
    u = users.add_parser("add", help="make an account (a random password is printed unless --stdin)")
    u.add_argument("name")
    u.add_argument("--role", choices=ROLES, default="editor")
    u.add_argument("--stdin", action="store_true", help="read the password from standard input")
    users.add_parser("list", help="every account, its role and last sign-in")
    u = users.add_parser("passwd", help="set an account's password (typed twice, or one line on standard input); "
                                        "its sessions end")
    u.add_argument("name")
    u.add_argument("--random", action="store_true", help="make a random password and print it")
    for verb in ("disable", "enable"):
        users.add_parser(verb, help=f"{verb} an account").add_argument("name")
    s.set_defaults(fn=cmd_user)

    s = sub.add_parser("backup", help="write the whole state (documents, dictionary, accounts, logs, the current "
                                      "version, ...) to an archive, while the service runs (with KB_DATABASE_URL: "
                                      "the database, through pg_dump)")
    s.add_argument("file")
    s.set_defaults(fn=cmd_backup)

    s = sub.add_parser("restore", help="restore an archive of `kb backup` into an empty data folder (with "
                                       "KB_DATABASE_URL: into an empty database, through pg_restore)")
    s.add_argument("file")
    s.set_defaults(fn=cmd_restore)

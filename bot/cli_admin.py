"""`kb user add|list|passwd|disable|enable` and `kb backup FILE` / `kb restore FILE`: the commands an
operator runs on the server (bot/cli.py adds them to its parser). They work while the service runs.

`kb backup` and `kb restore` are the embedded backend's: with KB_DATABASE_URL set the database is the whole
state and its own dump (pg_dump, docs/operations.md) is the backup, so they refuse rather than archive a data
folder that is only a cache.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from bot.auth.roles import ROLES


def _records(args):
    from bot.cli import _settings
    from bot.state import open_app_state

    return open_app_state(_settings(args))


def _audit(records, action: str, target: str) -> None:
    import time

    from bot.state.base import AuditEntry

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
    from bot.state.base import AlreadyExists

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


PG_DUMP_INSTEAD = ("KB_DATABASE_URL 已设置：状态都在数据库里，请用 pg_dump / pg_restore 备份和恢复"
                   "（docs/operations.md）/ KB_DATABASE_URL is set: the whole state is in the database; back it up with pg_dump and restore "
                   "it with pg_restore (docs/operations.md, Backups with pg_dump). The data folder is only a cache")


def _refused_for_a_database(settings) -> bool:
    from kb.state import EMBEDDED, backend

    if backend(settings) == EMBEDDED:
        return False
    print(f"error: {PG_DUMP_INSTEAD}", file=sys.stderr)
    return True


def cmd_backup(args) -> int:
    from bot.backup.archive import BackupError, backup
    from bot.cli import _settings

    settings = _settings(args)
    if _refused_for_a_database(settings):
        return 2
    try:
        manifest = backup(settings.root, Path(args.file))
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = os.path.getsize(args.file)
    print(f"backup written: {args.file} ({size / 1e6:.1f} MB, {len(manifest['files'])} files)")
    print(json.dumps(manifest["counts"], ensure_ascii=False, indent=1))
    return 0


def cmd_restore(args) -> int:
    from bot.backup.archive import BackupError, restore
    from bot.cli import _settings

    settings = _settings(args)
    if _refused_for_a_database(settings):
        return 2
    try:
        manifest = restore(Path(args.file), settings.root)
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"restored into {settings.root}: every file and count checked against the manifest")
    print(json.dumps(manifest["counts"], ensure_ascii=False, indent=1))
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
                                      "version, ...) to an archive, while the service runs (embedded backend; with "
                                      "KB_DATABASE_URL use pg_dump)")
    s.add_argument("file")
    s.set_defaults(fn=cmd_backup)

    s = sub.add_parser("restore", help="restore an archive of `kb backup` into an empty data folder")
    s.add_argument("file")
    s.set_defaults(fn=cmd_restore)

"""``users`` and ``audit``: people and their roles from the shell, and the audit chain check.

    python -m toxdb users add EMAIL --role ROLE [--site SITE ...] [--name NAME] [--new-site] [--db PATH]
    python -m toxdb users list [--json] [--db PATH]
    python -m toxdb users set EMAIL [--role ROLE] [--site SITE ...] [--name NAME] [--active|--inactive]
    python -m toxdb users disable EMAIL [--db PATH]
    python -m toxdb audit verify [--db PATH] [--expect N:HASH ...] [--anchors FILE ...]
    python -m toxdb audit head [--db PATH]          # N:HASH, to keep outside the store (D68)

Changes are made as the OS user acting as ``[roles] local_role`` (D62) and audited under that name.
Exit status: 0 done, 2 refused (the reason is printed), 1 the audit chain is broken or does not reach
a head recorded earlier.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from toxdb.access import AccessDenied, local_person, require
from toxdb.cli.common import add_db_arg, record_cli_action
from toxdb.i18n import _
from toxdb.store.audit import Anchor, parse_anchor, read_anchors
from toxdb.store.db import default_db_path, open_store
from toxdb.users import UserError, add_user, disable_user, set_user


def _change(args) -> int:
    me = local_person()
    try:
        require(me, "users")
        with open_store(args.db or default_db_path()) as store:
            if args.users_cmd == "add":
                person = add_user(store, args.email, role=args.role, sites=args.site or [], name=args.name,
                                  new_sites=args.new_site, actor=me.identity)
            elif args.users_cmd == "set":
                person = set_user(store, args.email, role=args.role, sites=args.site, name=args.name,
                                  active=args.active, new_sites=args.new_site, actor=me.identity)
            else:
                person = disable_user(store, args.email, actor=me.identity)
    except (UserError, AccessDenied) as exc:
        print(f"toxdb: {exc}", file=sys.stderr)
        return 2
    state = _("active") if person.active else _("disabled")
    print(f"{person.identity}: {person.role}, {', '.join(person.sites) or '-'}, {state}")
    return 0


def _list(args) -> int:
    db = args.db or default_db_path()
    with open_store(db, read_only=True) as store:
        users = store.users()
    record_cli_action(db, "users_listed", {"rows": len(users), "format": "json" if args.json else "text"})   # D67
    rows = [{"identity": r.identity, "name": r.name, "role": r.role, "sites": list(r.sites), "active": bool(r.active),
             "changed_at": str(r.changed_at), "changed_by": r.changed_by} for r in users.itertuples(index=False)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r['identity']:32} {r['role']:14} {','.join(r['sites']) or '-':14} "
              f"{'active' if r['active'] else 'disabled':9} {r['name'] or ''}")
    return 0


def _anchors(args) -> list[Anchor] | None:
    """The heads given with --expect and found in --anchors files; None (after saying why) when one
    cannot be read."""
    try:
        anchors = [parse_anchor(text) for text in args.expect or []]
    except ValueError as exc:
        print(f"toxdb: {exc}", file=sys.stderr)
        return None
    for path in args.anchors or []:
        try:
            found = read_anchors(Path(path).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            print("toxdb: " + _("cannot read the heads file {path}: {why}").format(path=path, why=exc.strerror or exc),
                  file=sys.stderr)
            return None
        if not found:
            print("toxdb: " + _("no audit head (N:HASH) in {path}").format(path=path), file=sys.stderr)
            return None
        anchors += found
    return anchors


def _verify(args) -> int:
    anchors = _anchors(args)
    if anchors is None:
        return 2
    with open_store(args.db or default_db_path(), read_only=True) as store:
        check = store.verify_audit(anchors)
        newest = store.audit_head()
    if not check.ok:
        where = f" at entry #{check.broken_seq}" if check.broken_seq is not None else ""
        print(f"audit log BROKEN{where}: {check.problem}", file=sys.stderr)
        return 1
    print(f"audit log intact: {check.entries} entries; head {newest}")
    if anchors:
        print(f"it reaches every head recorded earlier ({len(anchors)} checked; the newest #{max(a.seq for a in anchors)})")
    else:
        print("Deleting the newest entries leaves an intact chain, so that cannot be seen without a head kept "
              "elsewhere: check with --expect N:HASH (every committee report prints the head it was built at) "
              "or --anchors FILE (heads appended by `python -m toxdb audit head >> FILE`).")
    return 0


def _head(args) -> int:
    with open_store(args.db or default_db_path(), read_only=True) as store:
        print(store.audit_head())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("users", help="people who may sign in: roles and sites")
    users = p.add_subparsers(dest="users_cmd", required=True)
    for name, helptext in (("add", "add a person"), ("set", "change a person's role, sites, name or state")):
        q = users.add_parser(name, help=helptext)
        add_db_arg(q)
        q.add_argument("email")
        q.add_argument("--role", required=(name == "add"), help="a role of [roles.NAME] in trial.toml")
        q.add_argument("--site", action="append", default=None, help="a site the person works for (repeat)")
        q.add_argument("--name", default=None, help="display name")
        q.add_argument("--new-site", action="store_true", help="accept a site the store has no data for yet")
        if name == "set":
            state = q.add_mutually_exclusive_group()
            state.add_argument("--active", dest="active", action="store_const", const=True, default=None)
            state.add_argument("--inactive", dest="active", action="store_const", const=False)
        q.set_defaults(func=_change)
    q = users.add_parser("disable", help="take away every right (the person stays in the log)")
    add_db_arg(q)
    q.add_argument("email")
    q.set_defaults(func=_change)
    q = users.add_parser("list", help="everyone, with role, sites and state")
    add_db_arg(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_list)

    p = sub.add_parser("audit", help="check the audit log")
    sub_a = p.add_subparsers(dest="audit_cmd", required=True)
    q = sub_a.add_parser("verify", help="recompute the hash chain; name the first broken entry")
    add_db_arg(q)
    q.add_argument("--expect", action="append", metavar="N:HASH",
                   help="a head recorded earlier (audit head, a committee report): names newest entries deleted")
    q.add_argument("--anchors", action="append", metavar="FILE",
                   help="a file holding heads recorded earlier (every N:HASH in it is checked)")
    q.set_defaults(func=_verify)
    q = sub_a.add_parser("head", help="print the newest entry's number and hash (N:HASH) to keep elsewhere")
    add_db_arg(q)
    q.set_defaults(func=_head)

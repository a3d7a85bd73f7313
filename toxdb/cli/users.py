"""``users`` and ``audit``: people and their roles from the shell, and the audit chain check.

    python -m toxdb users add EMAIL --role ROLE [--site SITE ...] [--name NAME] [--new-site] [--db PATH]
    python -m toxdb users list [--json] [--db PATH]
    python -m toxdb users set EMAIL [--role ROLE] [--site SITE ...] [--name NAME] [--active|--inactive]
    python -m toxdb users disable EMAIL [--db PATH]
    python -m toxdb audit verify [--db PATH]

Changes are made as the OS user acting as ``[roles] local_role`` (D62) and audited under that name.
Exit status: 0 done, 2 refused (the reason is printed), 1 the audit chain is broken.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from toxdb.access import AccessDenied, local_person, require
from toxdb.cli.common import add_db_arg
from toxdb.i18n import _
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
    with open_store(args.db or default_db_path(), read_only=True) as store:
        users = store.users()
    rows = [{"identity": r.identity, "name": r.name, "role": r.role, "sites": list(r.sites), "active": bool(r.active),
             "changed_at": str(r.changed_at), "changed_by": r.changed_by} for r in users.itertuples(index=False)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r['identity']:32} {r['role']:14} {','.join(r['sites']) or '-':14} "
              f"{'active' if r['active'] else 'disabled':9} {r['name'] or ''}")
    return 0


def _verify(args) -> int:
    with open_store(args.db or default_db_path(), read_only=True) as store:
        check = store.verify_audit()
    if check.ok:
        print(f"audit log intact: {check.entries} entries; head {check.head}")
        return 0
    print(f"audit log BROKEN at entry #{check.broken_seq}: {check.problem}", file=sys.stderr)
    return 1


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
    q.set_defaults(func=_verify)

"""``alerts send`` and ``alerts list``: deliver the outbox (for a scheduler) and show it (D95, D97)."""
from __future__ import annotations

import sys
from typing import Any

from toxdb.alerts.deliver import SMTP_URL_ENV, SmtpConfigError, send_due_alerts
from toxdb.alerts.outbox import describe_alerts
from toxdb.cli.common import add_db_arg
from toxdb.i18n import _
from toxdb.identity import current_user
from toxdb.store.db import default_db_path, open_store
from toxdb.trial import load_trial


def _cmd_send(args) -> int:
    trial = load_trial()
    with open_store(args.db or default_db_path()) as store:
        try:
            result = send_due_alerts(store, trial, current_user(), ignore_back_off=args.all)
        except SmtpConfigError as exc:
            print(f"toxdb: {exc}", file=sys.stderr)
            return 2
        waiting = describe_alerts(store.alerts())
        if not result.configured:
            n = int((waiting["state"] != "sent").sum())
            print(_("toxdb: {env} is not set; {n} alert(s) wait in the outbox unsent").format(env=SMTP_URL_ENV, n=n),
                  file=sys.stderr)
            return 2
        if not result.table:
            print(_("nothing due (alerts waiting for their next attempt are retried then; --all retries them now)"))
        for row in result.table:
            if row["error"] is None:
                print(_("alert #{id}: sent").format(id=row["alert_id"]))
            else:
                print(_("alert #{id}: failed: {error}; next attempt {at:%Y-%m-%d %H:%M}").format(
                    id=row["alert_id"], error=row["error"], at=row["next_attempt_at"]))
    return 1 if result.summary["failed"] else 0


def _cmd_list(args) -> int:
    with open_store(args.db or default_db_path(), read_only=True) as store:
        table = describe_alerts(store.alerts())
    if args.json:
        print(table.to_json(orient="records", date_format="iso", force_ascii=False))
        return 0
    if not len(table):
        print(_("no alerts"))
    for row in table.to_dict("records"):
        print(f"#{row['alert_id']}  {row['created_at']:%Y-%m-%d %H:%M}  {row['status']}")
        print(f"    {row['subject']}")
        print("    " + _("to {role}: {recipients}").format(role=row["role"], recipients=row["recipients"]))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("alerts", help="e-mail alerts: send the outbox, list it")
    inner = p.add_subparsers(dest="alerts_command", required=True)
    s = inner.add_parser("send", help="send alerts that are due (retries failed ones after their back-off)")
    add_db_arg(s)
    s.add_argument("--all", action="store_true", help="retry every unsent alert now, ignoring the back-off")
    s.set_defaults(func=_cmd_send)
    s = inner.add_parser("list", help="every alert with its state")
    add_db_arg(s)
    s.add_argument("--json", action="store_true", help="a JSON array")
    s.set_defaults(func=_cmd_list)

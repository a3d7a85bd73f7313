"""``report``: the data-safety committee's report from a saved data cut (or a date), HTML or PDF.

    python -m toxdb report --cut DSMB-2026-06 --format pdf --out dsmb.pdf
    python -m toxdb report --cut 2026-06-30 --format html --out dsmb.html --section open

``--cut`` is the name of a saved cut (its data frozen when it was saved) or a date YYYY-MM-DD (data
as stored now). The report is built from a read-only connection; the build is then recorded in the
audit log (who built it, the data hash, the audit head it was built at) before the file appears
(D67). It prints ``audit head: N:HASH`` (keep it: ``audit verify --expect`` finds entries deleted
since, D68) and, last, ``data hash: <hex>``. Exit status 0 when the file was written, 2 when the cut
is unknown, 4 when the PDF could not be printed, 5 when the user's role may not build reports.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from toxdb.access import denial, local_person
from toxdb.cli.common import add_db_arg, say_waiting
from toxdb.i18n import LANGUAGES, set_language
from toxdb.identity import current_user
from toxdb.store.cuts import DataCut, list_saved_cuts
from toxdb.store.db import Store, default_db_path, open_store
from toxdb.trial import load_trial


def resolve_cut(store: Store, text: str) -> DataCut | None:
    """A saved cut by name, else a date (data as stored now); None when it is neither."""
    for cut in list_saved_cuts(store):
        if cut.name == text:
            return cut
    try:
        return DataCut(dt.date.fromisoformat(text))
    except ValueError:
        return None


def _run(args) -> int:
    from toxdb.reports.committee import (
        PdfError,
        compute_committee_report,
        record_report_built,
        render_report_html,
        render_report_pdf,
    )

    trial = load_trial()
    me = local_person(trial)
    reason = denial(me, "report", trial=trial)
    if reason is not None:
        print(f"toxdb: {reason}", file=sys.stderr)
        return 5
    db = args.db or default_db_path()
    with open_store(db, read_only=True, on_wait=say_waiting) as store:     # no write lock while building
        cut = resolve_cut(store, args.cut)
        if cut is None:
            names = ", ".join(c.name for c in list_saved_cuts(store)) or "none saved yet"
            print(f"toxdb: no saved cut named {args.cut!r} and not a date (YYYY-MM-DD); saved cuts: {names}",
                  file=sys.stderr)
            return 2
        set_language(args.lang or trial.trial.language)
        report = compute_committee_report(store, cut, trial, section=args.section, user=current_user())
    html = render_report_html(report)
    out = Path(args.out)
    part = out.with_name(out.name + ".part")       # the file appears only once the build is recorded (D67)
    try:
        if args.format == "pdf":
            try:
                render_report_pdf(html, part)
            except PdfError as exc:
                print(f"toxdb: {exc}", file=sys.stderr)
                return 4
        else:
            part.write_text(html, encoding="utf-8")
        with open_store(db, on_wait=say_waiting) as store:
            record_report_built(store, report, args.format, str(args.out))
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    print(f"wrote {args.format.upper()} report of {cut.label} to {args.out}")
    print(f"audit head: {report.summary['audit_head']}")
    print(f"data hash: {report.summary['data_hash']}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="the data-safety committee's report from a data cut (HTML or PDF)",
                       description=__doc__.split("\n\n")[0])
    add_db_arg(p)
    p.add_argument("--cut", required=True, metavar="NAME|DATE", help="a saved cut's name, or a date YYYY-MM-DD")
    p.add_argument("--format", choices=["html", "pdf"], default="html")
    p.add_argument("--out", type=Path, required=True, help="the file to write")
    p.add_argument("--section", choices=["open", "closed", "all"], default="all",
                   help="open section only, closed section only, or both (default)")
    p.add_argument("--lang", choices=list(LANGUAGES), default=None,
                   help="language of the report (default: the trial file's [trial] language)")
    p.set_defaults(func=_run)

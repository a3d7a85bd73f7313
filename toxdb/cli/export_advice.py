"""``export advice``: the Dose advice page's table, one row per patient on treatment and agent.

    python -m toxdb export advice --db trial.duckdb --cut 2026-06-30 --csv

Columns: subject_id, agent, phase, action (continue, interrupt, reduce, stop), dose_percent,
dose_mg_per_intake_calculated, dose_mg_per_intake, tablets, bsa, crcl, crcl_effect, reasons, rule,
resume_at_percent, alternative, pi_flags, notes, then handled / acknowledged_by / acknowledged_at /
ack_comment (an acknowledgement of exactly this advice), then advice_text, reason_text and rule_text
(the action, the reasons and the rule in words: toxdb/dosing/words.py). The advice is a hint; the physician decides.
"""
from __future__ import annotations

import argparse

import pandas as pd

from toxdb.cli.common import cut_from_args
from toxdb.store.db import Store
from toxdb.vocab import TREATMENTS

FIRST = ["subject_id", "agent", "action", "dose_percent", "dose_mg_per_intake", "rule"]


def build_advice(store: Store, args) -> pd.DataFrame:
    from toxdb.dosing.advice import (
        compute_snapshot_advice,
        derive_acknowledged,
        order_advice,
    )
    from toxdb.store.cuts import load_snapshot
    from toxdb.trial import load_trial

    result = compute_snapshot_advice(load_snapshot(store, cut_from_args(args)), load_trial())
    table = derive_acknowledged(result.table, store.acknowledgements())
    if args.not_continue:
        table = table[table["action"] != "continue"]
    if args.agent:
        table = table[table["agent"].isin(args.agent)]
    from toxdb.dosing.words import derive_advice_words

    table = derive_advice_words(order_advice(table.drop(columns=["advice_hash"])), load_trial())
    out = table[FIRST + [c for c in table.columns if c not in FIRST]].copy()
    out["acknowledged_at"] = pd.to_datetime(out["acknowledged_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return out.reset_index(drop=True)


def advice_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--not-continue", action="store_true", help="only rows whose action is not 'continue'")
    p.add_argument("--agent", action="append", choices=list(TREATMENTS),
                   help="only this agent (repeat for several)")

"""Listings for the closed section (serious adverse events, deaths, grade 4-5 events) and the
dose advice issued and acknowledged. The listing frames are also what the Safety listings page
shows and downloads (one definition for page and report)."""
from __future__ import annotations

import pandas as pd

from toxdb.dosing.advice import derive_acknowledged, order_advice, snapshot_advice_inputs
from toxdb.dosing.engine import compute_dose_advice
from toxdb.dosing.words import reasons_in_words
from toxdb.i18n import N_, _
from toxdb.reports.committee.data_quality import limit_rows
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import ReportTable

# values shown translated (ReportTable.translate): advice actions and phases
WORDS = (N_("continue"), N_("interrupt"), N_("reduce"), N_("stop"), N_("pre-treatment"), N_("concurrent"),
         N_("maintenance"), N_("post-treatment"))
EVENT_LABELS = {
    "subject_id": N_("Patient"), "site": N_("Site"), "term": N_("Term"), "worst_grade": N_("Grade"),
    "onset_date": N_("Onset"), "end_date": N_("End"), "phase": N_("Phase"), "serious": N_("Serious"),
    "attribution": N_("Attribution"), "attributed_to": N_("Attributed to"), "outcome": N_("Outcome"),
}


def _day(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d")


def listing_events(derived, sites: dict[str, str], mask) -> pd.DataFrame:
    """Events (grade changes merged, D7) selected by ``mask``, one row each, by patient and onset;
    end empty while ongoing; outcome from the event's latest row."""
    ev = derived.events[mask]
    rows = derived.rows
    outcome = pd.Series(dtype=object)
    if "outcome" in rows and len(ev):
        r = rows[rows["event_id"].isin(ev["event_id"])].sort_values(["event_id", "onset_date"], kind="stable")
        outcome = r.groupby("event_id")["outcome"].last()
    out = pd.DataFrame({
        "subject_id": ev["subject_id"].astype(str).to_numpy(),
        "site": ev["subject_id"].astype(str).map(sites).to_numpy(),
        "term": ev["term"].astype(str).to_numpy(),
        "worst_grade": ev["worst_grade"].astype(int).to_numpy(),
        "onset_date": _day(ev["onset_date"]).to_numpy(),
        "end_date": _day(ev["end_date"]).fillna("").to_numpy(),
        "phase": ev["phase"].astype(str).to_numpy(),
        "serious": ev["serious"].astype(bool).to_numpy(),
        "attribution": ev["attribution"].astype(object).where(ev["attribution"].notna(), "").to_numpy(),
        "attributed_to": ev["attributed_to"].astype(object).where(ev["attributed_to"].notna(), "").to_numpy(),
        "outcome": ev["event_id"].map(outcome).astype(object).fillna("").to_numpy(),
    })
    return out.sort_values(["subject_id", "onset_date", "term"], kind="stable").reset_index(drop=True)


def compute_sae_listing(derived, sites: dict[str, str]) -> pd.DataFrame:
    return listing_events(derived, sites, derived.events["serious"].astype(bool).to_numpy())


def compute_grade45_listing(derived, sites: dict[str, str]) -> pd.DataFrame:
    return listing_events(derived, sites, (derived.events["worst_grade"].astype(int) >= 4).to_numpy())


def compute_death_listing(patients: pd.DataFrame, derived) -> pd.DataFrame:
    """Patients who died by the cut: date, days from the last dose, the grade 5 event(s) as the
    cause with their attribution ("" when no grade 5 event is recorded)."""
    dead = patients[patients["died"].fillna(False).astype(bool)]
    ev = derived.events[derived.events["worst_grade"].astype(int) == 5]
    by = ev.assign(attr=ev["attribution"].astype(object).fillna("") + ev["attributed_to"].astype(object)
                   .where(ev["attributed_to"].notna() & (ev["attributed_to"].astype(str) != ""), "")
                   .map(lambda a: f" ({a})" if a else "")).groupby(ev["subject_id"].astype(str))
    cause = by["term"].agg(lambda s: "; ".join(map(str, s)))
    attr = by["attr"].agg(lambda s: "; ".join(map(str, s)))
    last = derived.milestones.set_index(derived.milestones["subject_id"].astype(str))["last_dose"]
    sid = dead["subject_id"].astype(str)
    death = pd.to_datetime(dead["death_on"])
    days = (death - pd.to_datetime(sid.map(last))).dt.days
    out = pd.DataFrame({"subject_id": sid.to_numpy(), "site": dead["site"].to_numpy(), "death_on": _day(death).to_numpy(),
                        "days_from_last_dose": days.astype("Int64").to_numpy(),
                        "cause": sid.map(cause).astype(object).fillna("").to_numpy(),
                        "attribution": sid.map(attr).astype(object).fillna("").to_numpy()})
    return out.sort_values(["death_on", "subject_id"], kind="stable").reset_index(drop=True)


def _event_table(key, title, frame, footnote, limit, empty) -> ReportTable:
    shown, note = limit_rows(frame, limit)
    return ReportTable(key, title, shown, footnote, {k: _(v) for k, v in EVENT_LABELS.items()}, note=note,
                       empty_text=empty, full_rows=len(frame), data=frame, translate=("phase",))


def build_listings(inp: ReportInputs) -> list[ReportTable]:
    d, sites, limit = inp.derived, inp.site_of(), inp.trial.report.listing_max_rows
    sae = compute_sae_listing(d, sites)
    deaths = compute_death_listing(inp.patients, d)
    g45 = compute_grade45_listing(d, sites)
    rule = _("One row per adverse event (grade changes recorded over several rows are one event, at its worst "
             "grade, D7), any phase including before and after treatment, onset on or before the cut; by patient "
             "and onset. Attribution: the strongest on any row.")
    return [
        _event_table("sae", _("Serious adverse events"), sae,
                     _("Population: every patient enrolled by the cut; {n} events marked serious on any row in {p} "
                       "patients. ").format(n=len(sae), p=sae["subject_id"].nunique()) + rule, limit,
                     _("No serious adverse event recorded.")),
        ReportTable("deaths", _("Deaths"), deaths,
                    _("Population: every patient enrolled by the cut; {n} patients with a death date on or before the "
                      "cut. Days from last dose: from the end of the last treatment row. Cause: the grade 5 adverse "
                      "event(s) recorded for the patient, with their attribution; empty when none is recorded.").format(
                        n=len(deaths)),
                    {"subject_id": _("Patient"), "site": _("Site"), "death_on": _("Died on"),
                     "days_from_last_dose": _("Days from last dose"), "cause": _("Cause (grade 5 AE)"),
                     "attribution": _("Attribution")}, empty_text=_("No death recorded.")),
        _event_table("grade45", _("Grade 4 and 5 adverse events"), g45,
                     _("Population: every patient enrolled by the cut; {n} events of worst grade 4 or 5 in {p} "
                       "patients. ").format(n=len(g45), p=g45["subject_id"].nunique()) + rule, limit,
                     _("No grade 4 or 5 adverse event recorded.")),
    ]


def compute_advice_on_treatment(inp: ReportInputs):
    """The dose advice of the cut (compute_dose_advice), given only the rows of the patients on
    treatment at the cut (D10): advice is made for them only and reads only their own rows, so the
    table is the same while a large trial's finished patients are not walked through again."""
    on = set(inp.patients.loc[inp.patients["on_treatment"].fillna(False).astype(bool), "subject_id"].astype(str))
    a = snapshot_advice_inputs(inp.snapshot, inp.trial, inp.derived)

    def mine(frame):
        return frame if frame is None else frame[frame["subject_id"].astype(str).isin(on).to_numpy()]

    return compute_dose_advice(mine(a["patients"]), mine(a["events"]), mine(a["labs"]), mine(a["treatment"]),
                               inp.trial, a["cut"])


def build_advice(inp: ReportInputs) -> list[ReportTable]:
    res = compute_advice_on_treatment(inp)
    acks = inp.store.acknowledgements()
    if inp.cut.frozen_at is not None and len(acks):      # acknowledgements as they stood when the cut was frozen (D82)
        acks = acks[pd.to_datetime(acks["made_at"]) <= pd.Timestamp(inp.cut.frozen_at)]
    table = order_advice(derive_acknowledged(res.table, acks))
    summ = table.groupby(["agent", "action"]).agg(issued=("subject_id", "size"), acknowledged=("handled", "sum")) \
        .reset_index() if len(table) else pd.DataFrame(columns=["agent", "action", "issued", "acknowledged"])
    summ["acknowledged"] = summ["acknowledged"].astype(int)
    summary = ReportTable(
        "advice_summary", _("Dose advice issued and acknowledged"), summ,
        _("Population: patients on treatment at the cut (D10), one row of advice per patient and agent, from the "
          "trial file's dose rules applied to the data of the cut. Acknowledged: a physician recorded handling exactly "
          "this advice (by the time the cut was frozen)."),
        {"agent": _("Agent"), "action": _("Advice"), "issued": _("Issued"), "acknowledged": _("Acknowledged")},
        empty_text=_("No patient on treatment at the cut."), translate=("action",))
    act = table[table["action"] != "continue"]
    listing = pd.DataFrame({"subject_id": act["subject_id"].astype(str), "agent": act["agent"], "action": act["action"],
                            "reasons": act["reasons"].map(reasons_in_words), "acknowledged_by": act["acknowledged_by"].fillna(""),
                            "acknowledged_at": pd.to_datetime(act["acknowledged_at"]).dt.strftime("%Y-%m-%d")
                            .fillna("")}).reset_index(drop=True)
    return [summary, ReportTable(
        "advice", _("Dose advice other than continue"), listing,
        _("Population: the advice rows above whose advice is interrupt, reduce or stop, most severe first."),
        {"subject_id": _("Patient"), "agent": _("Agent"), "action": _("Advice"), "reasons": _("Reasons"),
         "acknowledged_by": _("Acknowledged by"), "acknowledged_at": _("Acknowledged on")},
        empty_text=_("Every patient on treatment: continue."), translate=("action",), words=("reasons",))]

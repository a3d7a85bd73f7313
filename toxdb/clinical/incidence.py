"""compute_*: incidence by SOC/term x worst grade x phase (counting rules: docs/clinical-rules.md
section 3). The DuckDB twin is toxdb.clinical.events_sql.compute_incidence_sql; both end in
finish_incidence so that their tables are identical."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.i18n import N_, _
from toxdb.vocab import GRADES

INCIDENCE_PHASES = {"concurrent": N_("Concurrent (chemoradiotherapy)"), "maintenance": N_("Maintenance"),
                    "all": N_("All treatment-emergent")}     # shown as _(INCIDENCE_PHASES[p])
ANY_AE = "Any adverse event"            # a value in the table; shown as _(ANY_AE)
N_("Any adverse event")

COUNTING_RULE = N_(
    "Incidence = patients with at least one event / patients at risk in that phase. Each patient is "
    "counted once per term (and once per system organ class) at their worst grade, and once in "
    "\"{any}\". Patients at risk in a phase are those who started that phase (concurrent: started "
    "chemoradiotherapy; maintenance: started a maintenance cycle; all: started any treatment). "
    "Only treatment-emergent events count: onset from the first treatment to {w} days after the end "
    "of chemoradiotherapy (no maintenance yet) or after the last dose (maintenance), or a worsening of "
    "a condition present before the first treatment. Grade changes recorded over several rows are one "
    "event at its worst grade, in the phase of its first onset."
)



@dataclass
class IncidenceResult:
    table: pd.DataFrame            # phase, level, soc, term, n_g1..n_g5, n_ge3, n_any, at_risk, pct_*
    summary: dict = field(default_factory=dict)


COUNT_COLUMNS = [f"n_g{g}" for g in GRADES] + ["n_ge3", "n_any"]
NO_SOC = "(SOC not coded)"


def soc_or_none_coded(soc: pd.Series) -> pd.Series:
    """The SOC of each event, NO_SOC where none is coded (also for a categorical column read from the
    store, whose categories do not include NO_SOC)."""
    return soc.astype(object).where(soc.notna(), NO_SOC)


def at_risk_by_phase(milestones: pd.DataFrame, subjects=None) -> dict[str, set]:
    """Patients at risk in each incidence phase: those who started it (docs/clinical-rules.md section 3)."""
    ms = milestones if subjects is None else milestones[milestones["subject_id"].isin(list(subjects))]
    sid = ms["subject_id"].astype("str")
    return {
        "concurrent": set(sid[ms["concurrent_start"].notna()]),
        "maintenance": set(sid[ms["maintenance_start"].notna()]),
        "all": set(sid[ms["first_treatment"].notna()]),
    }


def _site_subjects(patients: pd.DataFrame | None, sites) -> set | None:
    if not sites:
        return None
    if patients is None:
        raise ValueError("filtering by site needs the patients table (subject -> site)")
    return set(patients.loc[patients["site"].isin(list(sites)), "subject_id"].astype("str"))


_INCIDENCE_COLUMNS = ["subject_id", "event_id", "term", "soc", "worst_grade", "onset_date", "emergent_phase"]


def _keep_mask(events: pd.DataFrame, *, attribution=None, serious_only: bool = False, subjects=None) -> np.ndarray:
    keep = events["treatment_emergent"].fillna(False).to_numpy(bool)
    if attribution:
        keep = keep & events["attribution"].isin(list(attribution)).to_numpy(bool)
    if serious_only:
        keep = keep & events["serious"].fillna(False).to_numpy(bool)
    if subjects is not None:
        keep = keep & events["subject_id"].isin(list(subjects)).to_numpy(bool)
    return keep


def _phase_mask(ev: pd.DataFrame, subj_code: np.ndarray, subj_uniques, risk: set, phase: str) -> np.ndarray:
    """Events of one incidence phase from patients at risk in it."""
    at_risk = pd.Index(subj_uniques).isin(list(risk))
    mask = at_risk[subj_code] if len(subj_code) else np.zeros(0, bool)
    if phase != "all":
        mask = mask & ev["emergent_phase"].eq(phase).fillna(False).to_numpy(bool)
    return mask


def compute_incidence(events: pd.DataFrame, milestones: pd.DataFrame, phases=("concurrent", "maintenance", "all"),
                      *, patients: pd.DataFrame | None = None, sites=None, attribution=None,
                      serious_only: bool = False, window_days: int) -> IncidenceResult:
    """Incidence of treatment-emergent events by SOC and term × worst grade × phase (docs/clinical-rules.md section 3).

    ``events`` from derive_events; ``milestones`` from derive_treatment_milestones gives the
    patients at risk (started the phase). ``sites`` (with ``patients`` for subject → site) restricts
    numerators and denominators to those sites; ``attribution`` (values, None = all) and
    ``serious_only`` restrict the events only. A phase's events are the treatment-emergent events
    whose ``emergent_phase`` is that phase ("all": every treatment-emergent event), from patients at
    risk in it.

    ``.table`` has one row per (phase, level, soc, term): level 'any' (the "Any adverse event" row),
    'soc' (patients with any term of the SOC, at their worst grade in it) or 'term'; counts n_g1..n_g5
    (patients whose worst grade is that grade), n_ge3, n_any; pct_* = 100 × n / at_risk.
    """
    subjects = _site_subjects(patients, sites)
    risk = at_risk_by_phase(milestones, subjects)
    slim = events[[c for c in _INCIDENCE_COLUMNS if c in events]]
    ev = slim[_keep_mask(events, attribution=attribution, serious_only=serious_only, subjects=subjects)]
    soc = soc_or_none_coded(ev["soc"])
    subj_code, subj_u = pd.factorize(ev["subject_id"])
    n_subj = max(len(subj_u), 1)
    grade = pd.to_numeric(ev["worst_grade"]).to_numpy().astype(np.int64)
    soc_code, soc_u = pd.factorize(soc, sort=True)
    term_code, term_u = pd.factorize(ev["term"], sort=True)
    st_code, st_u = pd.factorize(soc_code.astype(np.int64) * (len(term_u) + 1) + term_code, sort=True)
    levels = {
        "any": (np.zeros(len(ev), np.int64), 1, lambda k: (np.full(len(k), ANY_AE, object), np.full(len(k), None))),
        "soc": (soc_code, len(soc_u), lambda k: (np.asarray(soc_u, object)[k], np.full(len(k), None))),
        "term": (st_code, len(st_u), lambda k: (np.asarray(soc_u, object)[st_u[k] // (len(term_u) + 1)],
                                                 np.asarray(term_u, object)[st_u[k] % (len(term_u) + 1)])),
    }
    parts = []
    for ph in phases:
        mask = _phase_mask(ev, subj_code, subj_u, risk[ph], ph)
        for level, (key, n_keys, names) in levels.items():
            # each patient once per key, at their worst grade
            pair = key[mask].astype(np.int64) * n_subj + subj_code[mask]
            worst = pd.Series(grade[mask]).groupby(pair, sort=False).max()
            k = (worst.index.to_numpy() // n_subj).astype(np.int64)
            counts = np.bincount(k * 6 + worst.to_numpy(), minlength=n_keys * 6).reshape(n_keys, 6)
            present = np.flatnonzero(counts.sum(axis=1) > 0) if level != "any" else np.array([0])
            soc_name, term_name = names(present)
            t = pd.DataFrame({"phase": ph, "level": level, "soc": soc_name, "term": term_name})
            for g in GRADES:
                t[f"n_g{g}"] = counts[present, g]
            parts.append(t)
    return finish_incidence(pd.concat(parts, ignore_index=True), phases, {ph: len(risk[ph]) for ph in phases},
                            n_events=len(ev), sites=sites, attribution=attribution, serious_only=serious_only,
                            window_days=window_days)


def finish_incidence(counts: pd.DataFrame, phases, at_risk: dict[str, int], *, n_events: int, sites=None,
                     attribution=None, serious_only: bool = False, window_days: int) -> IncidenceResult:
    """The incidence table from per-(phase, level, soc, term) patient counts n_g1..n_g5: totals,
    patients at risk, percentages, the row order and the summary (shared by compute_incidence and
    derive_sql.compute_incidence_sql, so both give the same table)."""
    table = counts.copy()
    missing_any = [ph for ph in phases if not ((table["phase"] == ph) & (table["level"] == "any")).any()]
    if missing_any:        # the "Any adverse event" row is shown even when nobody has an event
        table = pd.concat([table, pd.DataFrame({"phase": missing_any, "level": "any", "soc": ANY_AE, "term": None,
                                                **{f"n_g{g}": 0 for g in GRADES}})], ignore_index=True)
    for g in GRADES:
        table[f"n_g{g}"] = table[f"n_g{g}"].astype(np.int64)
    table["soc"] = table["soc"].astype("str")
    table["term"] = table["term"].astype("str")
    table["n_ge3"] = table[["n_g3", "n_g4", "n_g5"]].sum(axis=1)
    table["n_any"] = table[[f"n_g{g}" for g in GRADES]].sum(axis=1)
    table["at_risk"] = table["phase"].map(at_risk).astype(int)
    for c in COUNT_COLUMNS:
        table["pct" + c[1:]] = np.where(table["at_risk"] > 0, 100.0 * table[c] / table["at_risk"].clip(lower=1),
                                        np.nan)
    # order: phase; "any AE" first; SOCs by descending patients; terms within a SOC likewise
    soc_n = table[table["level"] == "soc"].set_index(["phase", "soc"])["n_any"]
    sort = pd.DataFrame({
        "ph": table["phase"].map({p: i for i, p in enumerate(phases)}),
        "top": table["level"].ne("any"),
        "soc_n": -soc_n.reindex(pd.MultiIndex.from_arrays([table["phase"], table["soc"]])).fillna(0).to_numpy(),
        "soc": table["soc"], "lvl": table["level"].map({"any": 0, "soc": 1, "term": 2}),
        "n": -table["n_any"], "term": table["term"].fillna(""),
    })
    table = table.loc[sort.sort_values(list(sort.columns), kind="stable").index].reset_index(drop=True)
    summary = {
        "at_risk": {ph: int(at_risk[ph]) for ph in phases},
        "events": int(n_events),
        "patients_with_event": dict(zip(table.loc[table["level"] == "any", "phase"],
                                        table.loc[table["level"] == "any", "n_any"].astype(int))),
        "filters": {"sites": sorted(sites) if sites else None,
                    "attribution": sorted(attribution) if attribution else None, "serious_only": serious_only},
        "footnote": _(COUNTING_RULE).format(any=_(ANY_AE), w=window_days),
    }
    return IncidenceResult(table, summary)


def select_cell_events(events: pd.DataFrame, milestones: pd.DataFrame, phase: str, grade, *,
                       soc: str | None = None, term: str | None = None, patients: pd.DataFrame | None = None,
                       sites=None, attribution=None, serious_only: bool = False) -> pd.DataFrame:
    """The events counted in one cell of compute_incidence's table (same filters, same rules).

    ``grade``: 1-5 (patients whose worst grade is that grade), "ge3" (worst grade 3 or more) or
    "any". With ``term`` the cell is a term row (``soc`` optional); with only ``soc`` a SOC row;
    with neither the "Any adverse event" row. Returns, per counted patient, their worst event
    (ties: the earliest event).
    """
    subjects = _site_subjects(patients, sites)
    risk = at_risk_by_phase(milestones, subjects)
    keep = _keep_mask(events, attribution=attribution, serious_only=serious_only, subjects=subjects)
    if term is not None:
        keep = keep & events["term"].eq(term).fillna(False).to_numpy(bool)
    if soc is not None:
        keep = keep & soc_or_none_coded(events["soc"]).eq(soc).to_numpy(bool)
    ev = events[keep]
    subj_code, subj_u = pd.factorize(ev["subject_id"])
    ev = ev[_phase_mask(ev, subj_code, subj_u, risk[phase], phase)]
    ev = ev.sort_values(["worst_grade", "event_id"], ascending=[False, True], kind="stable")
    ev = ev.drop_duplicates("subject_id", keep="first")
    g = str(grade).lower()
    if g in ("ge3", ">=3", "≥3", "≥ 3", "grade ≥3"):
        ev = ev[ev["worst_grade"] >= 3]
    elif g != "any":
        ev = ev[ev["worst_grade"] == int(grade)]
    return ev.sort_values(["subject_id", "onset_date"], kind="stable")


SOURCE_COLUMNS = ["subject_id", "term", "grade", "onset_date", "onset_imputed", "end_date", "phase", "serious",
                  "attribution", "event_id", "upload_id", "source_row"]


def incidence_source_rows(rows: pd.DataFrame, cell_events: pd.DataFrame,
                          uploads: pd.DataFrame | None = None) -> pd.DataFrame:
    """The AE rows (as uploaded, with derived phase) behind the events of a cell, by patient and
    onset: the drill-down from a count to the upload and row it came from. With ``uploads``
    (store.uploads()) the upload's file name is added."""
    out = rows[rows["event_id"].isin(cell_events["event_id"].to_numpy())]
    cols = [c for c in SOURCE_COLUMNS if c in out]
    out = out.sort_values(["subject_id", "event_id", "onset_imputed" if "onset_imputed" in out else "onset_date"],
                          kind="stable")[cols].reset_index(drop=True)
    if uploads is not None and "upload_id" in out and len(uploads):
        names = uploads.set_index("upload_id")["file_name"]
        out.insert(len(out.columns) - 1, "file_name", names.reindex(out["upload_id"].to_numpy()).to_numpy())
    return out


# formatted column label -> the grade argument of select_cell_events
INCIDENCE_COLUMN_WORDS = (N_("Phase"), N_("System organ class"), N_("Term"), N_("At risk"), N_("Grade 1"),
                          N_("Grade 2"), N_("Grade 3"), N_("Grade 4"), N_("Grade 5"), N_("Grade ≥3"),
                          N_("Any grade"))
GRADE_COLUMNS = {**{f"Grade {g}": g for g in GRADES}, "Grade ≥3": "ge3", "Any grade": "any"}


def format_incidence(table: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The incidence table as text cells "n (x%)" with readable column names (for pages and CSV); SOCs
    and terms carry their name in the reader's language beside NCI's (``ctcae_display_name``)."""
    if table.empty:
        return pd.DataFrame(columns=["Phase", "System organ class", "Term", "At risk"])
    labels = {**{f"g{g}": f"Grade {g}" for g in GRADES}, "ge3": "Grade ≥3", "any": "Any grade"}
    # column names stay English (CSV, tests); a page shows them as _(name) (INCIDENCE_COLUMN_WORDS)
    out = pd.DataFrame({
        "Phase": table["phase"].map(INCIDENCE_PHASES).fillna(table["phase"]),
        "System organ class": derive_ctcae_display(table["soc"], "soc"),
        "Term": derive_ctcae_display(table["term"], "term").where(table["level"] == "term", ""),
        "At risk": table["at_risk"],
    })
    for key, label in labels.items():
        n, pct = table[f"n_{key}"], table[f"pct_{key}"]
        out[label] = n.astype(str) + " (" + pct.round(digits).map(lambda x: f"{x:.{digits}f}", na_action="ignore") \
            .fillna("–") + "%)"
    return out

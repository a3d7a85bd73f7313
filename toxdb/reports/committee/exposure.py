"""Exposure for the closed section: radiotherapy delivered, cycles per phase, dose intensity,
reductions, delays and interruptions, switches to S-1 -- read from the treatment log of the cut."""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.dosing.holds import derive_rt_interruption
from toxdb.i18n import _
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import ReportTable
from toxdb.reports.monitoring import pct
from toxdb.vocab import CAPECITABINE, CHEMO, RT, S1


def median_range(values) -> str:
    v = pd.Series(values, dtype=float).dropna()
    if v.empty:
        return "–"
    return f"{v.median():.4g} ({v.min():.4g}–{v.max():.4g})"


def derive_chemo_cycles(inp: ReportInputs) -> pd.DataFrame:
    """One row per chemotherapy cycle started by the cut: subject, agent, phase, start, dose, the
    percent of the planned dose (capecitabine: of the phase's mg/m2/day in the trial file; S-1: of the
    patient's first S-1 dose), reduced (below the previous cycle of the agent) and delay_days (start
    later than the previous cycle's start plus the cycle length)."""
    tr = inp.treatment
    chemo = tr[tr["treatment"].isin(CHEMO)].copy()
    chemo = chemo.sort_values(["subject_id", "treatment", "start_date"], kind="stable") \
        .drop_duplicates(["subject_id", "treatment", "start_date"])
    cape = inp.trial.capecitabine
    planned = np.where(chemo["phase_derived"] == "maintenance", cape.maintenance_mg_m2_day, cape.concurrent_mg_m2_day)
    dose = pd.to_numeric(chemo["dose"], errors="coerce")
    first_s1 = dose.where(chemo["treatment"] == S1).groupby(chemo["subject_id"]).transform("first")
    chemo["percent"] = np.where(chemo["treatment"] == CAPECITABINE, 100 * dose / planned, 100 * dose / first_s1)
    g = chemo.groupby(["subject_id", "treatment"], sort=False)
    chemo["reduced"] = (chemo["percent"] < g["percent"].shift(1) - 1e-9).fillna(False)
    # a late cycle: within one phase (the pause between chemoradiotherapy and maintenance is planned)
    prev = chemo.groupby(["subject_id", "treatment", "phase_derived"], sort=False)["start_date"].shift(1)
    gap = (pd.to_datetime(chemo["start_date"]) - pd.to_datetime(prev)).dt.days
    chemo["delay_days"] = (gap - int(inp.trial.phases.cycle_length_days)).clip(lower=0)
    return chemo[["subject_id", "treatment", "phase_derived", "start_date", "dose", "percent", "reduced",
                  "delay_days"]].rename(columns={"phase_derived": "phase"}).reset_index(drop=True)


def _rt_rows(inp: ReportInputs) -> list[tuple[str, str]]:
    tr = inp.treatment
    rt = tr[tr["treatment"] == RT]
    gy = rt[rt["dose_unit"].astype(str).str.strip().str.lower().eq("gy")]
    dose = pd.to_numeric(gy["dose"], errors="coerce").groupby(gy["subject_id"]).sum(min_count=1)
    fractions = pd.to_numeric(rt["fractions"], errors="coerce").groupby(rt["subject_id"]).sum(min_count=1)
    breaks = pd.Series(derive_rt_interruption(inp.log, inp.cut_ts), dtype=float)
    limit = int(inp.trial.holds.rt_interruption_flag_days)
    n = rt["subject_id"].nunique()
    return [(_("Patients who started radiotherapy"), str(n)),
            (_("Total RT dose delivered, Gy: median (range)"), median_range(dose)),
            (_("Fractions delivered: median (range)"), median_range(fractions)),
            (_("RT interruption, weekdays: median (range)"), median_range(breaks)),
            (_("Patients with RT interrupted more than {days} weekdays").format(days=limit),
             str(int((breaks > limit).sum())))]


def build_exposure(inp: ReportInputs) -> list[ReportTable]:
    cycles = derive_chemo_cycles(inp)
    ms = inp.derived.milestones
    started = int(ms["first_treatment"].notna().sum())
    rows = _rt_rows(inp)
    for agent in CHEMO:
        c = cycles[cycles["treatment"] == agent]
        if c.empty:
            continue
        per = c.groupby("subject_id")
        n = per.ngroups
        rows += [(_("{agent}: patients treated").format(agent=agent), str(n)),
                 (_("{agent}: mean dose per cycle as percent of planned: median (range) of patients").format(agent=agent),
                  median_range(per["percent"].mean())),
                 (_("{agent}: patients with a dose reduction").format(agent=agent),
                  f"{int(per['reduced'].any().sum())} ({pct(per['reduced'].any().mean())})"),
                 (_("{agent}: cycles started late / patients").format(agent=agent),
                  f"{int((c['delay_days'] > 0).sum())} / {int((c['delay_days'] > 0).groupby(c['subject_id']).any().sum())}"),
                 (_("{agent}: delay of a late cycle, days: median (range)").format(agent=agent),
                  median_range(c.loc[c["delay_days"] > 0, "delay_days"]))]
    rows.append((_("Patients switched from capecitabine to S-1"), str(int(ms["switched_to_s1"].sum()))))
    summary = ReportTable(
        "exposure", _("Exposure"), pd.DataFrame(rows, columns=["measure", "value"]),
        _("Population: {n} patients who started protocol treatment by the cut; treatment rows started on or before "
          "the cut. Dose intensity: each cycle's dose as a percent of the planned dose (capecitabine: the phase's "
          "mg/m² per day in the trial file; S-1: the patient's first S-1 dose), averaged per patient. A reduction: "
          "a cycle below the previous cycle of the same agent. A late cycle: started more than {days} days after "
          "the previous start in the same phase. RT interruption: weekdays without RT between courses and beyond the fractions "
          "delivered (D18). Switch to S-1: S-1 started after capecitabine (D4).").format(
            n=started, days=inp.trial.phases.cycle_length_days),
        {"measure": _("Measure"), "value": _("Value")}, words=("measure",))
    return [summary, _cycles_table(inp, cycles, started)]


def _cycles_table(inp: ReportInputs, cycles: pd.DataFrame, started: int) -> ReportTable:
    ph = inp.trial.phases
    planned = {"concurrent": int(ph.concurrent_cycles), "maintenance": int(ph.maintenance_cycles)}
    ms = inp.derived.milestones
    rows = []
    for phase, n_planned in planned.items():
        col = "concurrent_start" if phase == "concurrent" else "maintenance_start"
        in_phase = set(ms.loc[ms[col].notna(), "subject_id"].astype(str))
        got = cycles[cycles["phase"] == phase].groupby("subject_id").size().reindex(sorted(in_phase)).fillna(0)
        counts = got.clip(upper=n_planned).astype(int).value_counts()
        row = {"phase": phase, "patients": len(in_phase)}
        for k in range(max(planned.values()) + 1):
            row[f"c{k}"] = str(int(counts.get(k, 0))) if k <= n_planned else "–"
        row["all_planned"] = pct(counts.get(n_planned, 0) / len(in_phase)) if in_phase else "–"
        rows.append(row)
    frame = pd.DataFrame(rows)
    k_max = max(planned.values())
    frame = frame[["phase", "patients", *[f"c{k}" for k in range(k_max + 1)], "all_planned"]]
    labels = {"phase": _("Phase"), "patients": _("Patients in phase"), "all_planned": _("All planned cycles"),
              **{f"c{k}": _("{k} cycles").format(k=k) for k in range(k_max + 1)}}
    return ReportTable(
        "cycles", _("Chemotherapy cycles received per phase"), frame,
        _("Population: patients who started the phase (concurrent: started chemoradiotherapy; maintenance: started "
          "a maintenance cycle); each patient counted once by the number of distinct chemotherapy cycles (either "
          "agent) started in the phase by the cut (planned: {conc} concurrent, {maint} maintenance; more than "
          "planned counted as planned).").format(conc=ph.concurrent_cycles, maint=ph.maintenance_cycles),
        labels, translate=("phase",))

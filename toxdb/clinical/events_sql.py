"""The toxicity derivations as DuckDB SQL over the stored tables, for views that need only totals.

``toxdb.clinical.events`` is the reference: every step there is a pandas function with hand-worked
tests, and the pages that show rows (drill-down, patient course, exports) use it. A million AE rows
take it a couple of seconds, which is too long for the first view of a new data version when all
that is shown is a table of counts. This module asks the same questions of DuckDB, which reads the
stored rows in place, in parallel, and returns only the answer:

* ``compute_incidence_sql`` -- pandas twin ``toxdb.clinical.incidence.compute_incidence`` over
  ``events.derive_snapshot_events`` (same rows, same order);
* ``read_first_qualifying_rows`` -- pandas twin: the rows ``toxdb.monitoring.cohorts`` builds from
  ``events.derive_event_rows``, as far as a cohort can start from them.

The rules are those of ``toxdb.clinical.events`` (decisions D1-D9, D26 in docs/decisions.md);
tests/test_derive_sql.py and tests/test_events_twins.py check the two against each other on
hand-built and random trials. Ties that the pandas code breaks by upload and row in the file are
broken here the same way. Only toxdb/store talks to DuckDB: the SQL runs through ``Store.query``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.clinical.incidence import ANY_AE, NO_SOC, IncidenceResult, finish_incidence
from toxdb.vocab import ATTRIBUTION_ORDER, CHEMO, GRADES, PHASES

_FAR_FUTURE = "DATE '9999-12-31'"          # an ongoing row's end, so that running maxima stay "ongoing"


def _quoted(values) -> str:
    """Constants of this package (never user input) as a SQL list of text literals."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _attribution_rank(expr: str) -> str:
    """Index of an attribution in ATTRIBUTION_ORDER (the strongest last), -1 when missing/unknown."""
    cases = " ".join(f"WHEN '{a}' THEN {i}" for i, a in enumerate(ATTRIBUTION_ORDER))
    return f"CASE {expr} {cases} ELSE -1 END"


def _attribution_label(rank: str) -> str:
    cases = " ".join(f"WHEN {i} THEN '{a}'" for i, a in enumerate(ATTRIBUTION_ORDER))
    return f"CASE {rank} {cases} END"


def _phase_code(expr: str) -> str:
    return f"CASE {expr} " + " ".join(f"WHEN {i} THEN '{p}'" for i, p in enumerate(PHASES)) + " END"


def _rows_sql(store, cut) -> str:
    """CTEs from the snapshot of ``cut`` to ``rows``: one row per AE row with its imputed onset,
    phase, worsening flag, event and order within the event (derive_ae_onset, derive_event_ids,
    derive_ae_phase); ``ms``: the treatment milestones per patient (derive_treatment_milestones);
    ``subjects``, ``terms``, ``socs``: the text behind the integer codes the rows carry (grouping a
    million rows on integers is several times quicker than on text). Phases are coded in time order
    (PHASES): within a patient a later onset never has an earlier phase. Parameters: $cut (DATE),
    $window (INTEGER, days).

    Long: one SQL text whose CTEs follow the pandas steps one for one; cut into functions it would
    scatter a single query over several places and hide which CTE reads which."""
    tr = store.snapshot_sql("treatment", cut.as_of, cut.cut_date)
    ae = store.snapshot_sql("ae", cut.as_of, cut.cut_date)
    pre, conc, maint, post = range(len(PHASES))
    return f"""
    tr AS ({tr}),
    ae AS ({ae}),
    rt_span AS (
        SELECT subject_id, max(coalesce(end_date, {_FAR_FUTURE})) AS rt_end
        FROM tr WHERE treatment = 'RT' GROUP BY subject_id),
    tr_phase AS (
        SELECT t.subject_id, t.treatment, t.start_date,
               CASE WHEN t.end_date IS NULL OR t.end_date > $cut THEN $cut ELSE t.end_date END AS end_at_cut,
               CASE WHEN t.treatment = 'RT' THEN 'concurrent'
                    WHEN t.phase IS NOT NULL THEN t.phase
                    WHEN r.rt_end IS NOT NULL AND t.start_date > r.rt_end THEN 'maintenance'
                    ELSE 'concurrent' END AS phase
        FROM tr t LEFT JOIN rt_span r USING (subject_id)),
    ms AS (
        SELECT subject_id,
               min(start_date) AS first_treatment,
               min(start_date) FILTER (WHERE phase = 'concurrent') AS concurrent_start,
               max(end_at_cut) FILTER (WHERE phase = 'concurrent') AS crt_end,
               min(start_date) FILTER (WHERE phase = 'maintenance' AND treatment IN ({_quoted(CHEMO)}))
                   AS maintenance_start,
               max(end_at_cut) AS last_dose
        FROM tr_phase GROUP BY subject_id),
    subjects AS (
        SELECT subject_id, row_number() OVER (ORDER BY subject_id) AS sid
        FROM (SELECT subject_id FROM ms UNION SELECT subject_id FROM ae)),
    terms AS (SELECT term, row_number() OVER (ORDER BY term) AS tid FROM (SELECT DISTINCT term FROM ae)),
    socs AS (
        SELECT soc, row_number() OVER (ORDER BY soc) AS cid
        FROM (SELECT DISTINCT coalesce(soc, '{NO_SOC}') AS soc FROM ae)),
    refs AS (
        SELECT ae_ref, row_number() OVER (ORDER BY ae_ref) AS rid
        FROM (SELECT DISTINCT ae_ref FROM ae WHERE trim(ae_ref) <> '')),
    rows_onset AS (
        SELECT s.sid, t.tid, c.cid, f.rid, a.grade, a.serious, a.attribution, a.end_date, a.upload_id,
               a.source_row, m.first_treatment, m.crt_end, m.maintenance_start, m.last_dose,
               CASE WHEN ((a.onset_precision = 'month'
                           AND date_trunc('month', a.onset_date) = date_trunc('month', m.first_treatment))
                          OR (a.onset_precision = 'year'
                              AND date_trunc('year', a.onset_date) = date_trunc('year', m.first_treatment)))
                         AND m.first_treatment > a.onset_date
                         AND NOT coalesce(a.end_date < m.first_treatment, false)
                    THEN m.first_treatment ELSE a.onset_date END AS onset
        FROM ae a
        JOIN subjects s USING (subject_id)
        JOIN terms t USING (term)
        JOIN socs c ON c.soc = coalesce(a.soc, '{NO_SOC}')
        LEFT JOIN refs f ON f.ae_ref = a.ae_ref
        LEFT JOIN ms m USING (subject_id)),
    rows_phase AS (
        SELECT *,
               CASE WHEN first_treatment IS NULL OR onset < first_treatment THEN {pre}
                    WHEN CASE WHEN maintenance_start IS NOT NULL THEN onset < maintenance_start
                              ELSE onset <= crt_end + CAST($window AS INTEGER) END THEN {conc}
                    WHEN maintenance_start IS NOT NULL AND onset >= maintenance_start
                         AND onset <= last_dose + CAST($window AS INTEGER) THEN {maint}
                    ELSE {post} END AS phase,
               coalesce(end_date, {_FAR_FUTURE}) AS end_or_open
        FROM rows_onset),
    baseline AS (
        SELECT sid, tid, max(grade) AS baseline_grade FROM rows_phase WHERE phase = {pre} GROUP BY sid, tid),
    -- rows without a reference chain per subject and term, in onset order: a row starts a new event
    -- when its onset is more than a day after every earlier row of the chain has ended
    rows_open AS (
        SELECT *, max(end_or_open) OVER (PARTITION BY sid, tid ORDER BY onset, end_or_open
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS open_until
        FROM rows_phase WHERE rid IS NULL),
    rows_chained AS (
        SELECT * EXCLUDE (open_until), tid AS event_tid,
               sum(CASE WHEN open_until IS NULL OR onset - 1 > open_until THEN 1 ELSE 0 END)
                   OVER (PARTITION BY sid, tid ORDER BY onset, end_or_open ROWS UNBOUNDED PRECEDING) AS chain
        FROM rows_open
        UNION ALL BY NAME
        SELECT *, NULL AS event_tid, 0 AS chain FROM rows_phase WHERE rid IS NOT NULL),
    rows AS (
        SELECT r.*, r.phase IN ({conc}, {maint}) AS on_treatment,
               r.phase IN ({conc}, {maint}) AND b.baseline_grade IS NOT NULL AND r.grade > b.baseline_grade
                   AS worsening,
               -- the rows of an event in order: first onset first; on the same day the higher grade first;
               -- then upload and row in the file. One 128-bit number: quicker to compare than a tuple
               (CAST(date_diff('day', DATE '1970-01-01', r.onset) * 8 + (7 - r.grade) AS HUGEINT) << 64)
                   + (CAST(r.upload_id AS HUGEINT) << 32) + r.source_row AS row_order
        FROM rows_chained r LEFT JOIN baseline b ON b.sid = r.sid AND b.tid = r.tid)"""


# term and SOC codes of the first row travel as one number: tid * _CID_SPAN + cid (there are a few
# dozen SOCs)
_CID_SPAN = 65536
# one event: the rows of a subject with the same reference, or one chain of rows without one
_EVENT = "sid, rid, event_tid, chain"


def _events_sql() -> str:
    """CTE ``events``: one row per event (collapse_events) with its worst grade, strongest
    attribution, whether any row is serious and its emergent phase (coded; NULL when the event is
    not treatment-emergent)."""
    pre, conc, maint, _ = range(len(PHASES))
    return f"""
    events AS MATERIALIZED (
        SELECT sid, arg_min(tid * {_CID_SPAN} + cid, row_order) // {_CID_SPAN} AS tid,
               arg_min(tid * {_CID_SPAN} + cid, row_order) % {_CID_SPAN} AS cid, max(grade) AS worst_grade,
               bool_or(coalesce(serious, false)) AS serious,
               max({_attribution_rank('attribution')}) AS attribution_rank,
               -- the first onset's phase; for a condition present before treatment, the phase of its
               -- first worsening (phases are coded in time order, so the first is the smallest)
               CASE WHEN min(phase) IN ({conc}, {maint}) THEN min(phase)
                    WHEN min(phase) = {pre} THEN min(phase) FILTER (WHERE worsening) END AS emergent_phase
        FROM rows GROUP BY {_EVENT})"""


def compute_incidence_sql(store, cut, window_days: int, *, sites=None, attribution=None,
                          serious_only: bool = False, phases=("concurrent", "maintenance", "all")) -> IncidenceResult:
    """``incidence.compute_incidence`` of the snapshot at ``cut``, computed inside DuckDB (its pandas twin).

    Same arguments as there (``sites``: patients of these sites only, numerators and denominators;
    ``attribution``: keep events whose strongest attribution is one of these; ``serious_only``)."""
    params: dict = {"cut": pd.Timestamp(cut.cut_date).date(), "window": int(window_days)}
    site_filter = ""
    if sites:
        pt = store.snapshot_sql("patients", cut.as_of, cut.cut_date)
        site_filter = f" AND subject_id IN (SELECT subject_id FROM ({pt}) WHERE list_contains($sites, site))"
        params["sites"] = [str(x) for x in sites]
    event_filter = ""
    if attribution:
        ranks = [ATTRIBUTION_ORDER.index(a) for a in attribution if a in ATTRIBUTION_ORDER]
        event_filter += f" AND attribution_rank IN ({', '.join(map(str, ranks)) or '-2'})"
    if serious_only:
        event_filter += " AND serious"
    _, conc, maint, _ = range(len(PHASES))
    phase_rules = {"concurrent": f"r.at_risk_concurrent AND k.emergent_phase = {conc}",
                   "maintenance": f"r.at_risk_maintenance AND k.emergent_phase = {maint}",
                   "all": "r.at_risk_all"}
    per_phase = " UNION ALL ".join(
        f"SELECT '{ph}' AS phase, k.sid, k.tid, k.cid, k.worst_grade FROM kept k JOIN risk r USING (sid)"
        f" WHERE {phase_rules[ph]}" for ph in phases)
    grade_counts = ", ".join(f"count(*) FILTER (WHERE g = {g}) AS n_g{g}" for g in GRADES)
    sql = f"""
    WITH {_rows_sql(store, cut)},
    {_events_sql()},
    risk AS (
        SELECT s.sid, m.concurrent_start IS NOT NULL AS at_risk_concurrent,
               m.maintenance_start IS NOT NULL AS at_risk_maintenance, m.first_treatment IS NOT NULL AS at_risk_all
        FROM ms m JOIN subjects s USING (subject_id) WHERE true{site_filter}),
    kept AS MATERIALIZED (
        SELECT * FROM events WHERE emergent_phase IS NOT NULL{event_filter}
        {"AND sid IN (SELECT sid FROM subjects WHERE true" + site_filter + ")" if site_filter else ""}),
    per_phase AS ({per_phase}),
    -- each patient once per term, SOC and phase at their worst grade: terms first, then SOCs and
    -- "any" from the smaller tables above them
    worst_term AS MATERIALIZED (
        SELECT phase, cid, tid, sid, max(worst_grade) AS g FROM per_phase GROUP BY phase, cid, tid, sid),
    worst_soc AS MATERIALIZED (SELECT phase, cid, sid, max(g) AS g FROM worst_term GROUP BY phase, cid, sid),
    worst AS (
        SELECT phase, 'any' AS level, NULL AS cid, NULL AS tid, max(g) AS g FROM worst_soc GROUP BY phase, sid
        UNION ALL SELECT phase, 'soc', cid, NULL, g FROM worst_soc
        UNION ALL SELECT phase, 'term', cid, tid, g FROM worst_term),
    counts AS (
        SELECT w.phase, w.level, CASE WHEN w.level = 'any' THEN '{ANY_AE}' ELSE c.soc END AS soc, t.term,
               {grade_counts}
        FROM worst w LEFT JOIN socs c ON c.cid = w.cid LEFT JOIN terms t ON t.tid = w.tid
        GROUP BY w.phase, w.level, c.soc, t.term),
    totals AS (
        SELECT (SELECT count(*) FROM kept) AS n_events,
               count(*) FILTER (WHERE at_risk_concurrent) AS risk_concurrent,
               count(*) FILTER (WHERE at_risk_maintenance) AS risk_maintenance,
               count(*) FILTER (WHERE at_risk_all) AS risk_all
        FROM risk)
    SELECT t.*, c.* FROM totals t LEFT JOIN counts c ON true"""
    out = store.query(sql, params)
    totals = out.iloc[0]
    at_risk = {"concurrent": int(totals["risk_concurrent"]), "maintenance": int(totals["risk_maintenance"]),
               "all": int(totals["risk_all"])}
    counts = out.loc[out["phase"].notna(), ["phase", "level", "soc", "term", *[f"n_g{g}" for g in GRADES]]]
    counts = counts.astype({"term": object}).reset_index(drop=True)
    counts["term"] = counts["term"].where(counts["term"].notna(), None)
    return finish_incidence(counts, phases, at_risk, n_events=int(totals["n_events"]), sites=sites,
                            attribution=attribution, serious_only=serious_only, window_days=window_days)


def read_first_qualifying_rows(store, cut, window_days: int, monitoring) -> pd.DataFrame:
    """Each patient's first qualifying AE row in each monitoring cohort at ``cut``, in the frame
    ``toxdb.monitoring.cohorts`` builds from ``events.derive_event_rows`` (its pandas twin).

    A row qualifies (``monitoring`` is the trial file's monitoring section) when it is
    treatment-emergent (on treatment, and its event began on treatment or the row is a worsening),
    its grade is at least ``grade_min``, its onset is on or before the cut, the strongest attribution
    of its event is one of ``attributions`` (or none is recorded) and its term is not excluded. The
    cohorts: all (onset on or after the first treatment), concurrent and maintenance (row of that
    phase, onset on or after the phase's start). The first is the earliest onset, the higher grade
    on the same day, then upload and row in the file. Every row a cohort could start from is here,
    so the cohorts built from these rows are those built from all rows.

    Columns: subject_id, term, grade, onset_date (imputed), attribution, te (True), phase.
    """
    pre, conc, maint, _ = range(len(PHASES))
    params: dict = {"cut": pd.Timestamp(cut.cut_date).date(), "window": int(window_days),
                    "grade_min": int(monitoring.grade_min)}
    rules = ""
    if monitoring.attributions:
        allowed = sorted({str(a).strip().lower() for a in monitoring.attributions})
        ranks = [ATTRIBUTION_ORDER.index(a) for a in allowed if a in ATTRIBUTION_ORDER]
        rules += f" AND (f.event_rank < 0 OR f.event_rank IN ({', '.join(map(str, ranks)) or '-2'}))"
    if monitoring.exclude_terms:
        rules += " AND NOT list_contains($excluded, lower(trim(t.term)))"
        params["excluded"] = sorted({str(x).strip().lower() for x in monitoring.exclude_terms})
    rank = _attribution_rank("lower(trim(attribution))")
    first = "QUALIFY row_number() OVER (PARTITION BY q.sid ORDER BY q.onset, q.grade DESC, q.upload_id, q.source_row) = 1"
    sql = f"""
    WITH {_rows_sql(store, cut)},
    candidates AS (SELECT DISTINCT {_EVENT} FROM rows WHERE grade >= $grade_min AND on_treatment),
    -- per event that has a candidate row: did it start before treatment, its strongest attribution
    flags AS (
        SELECT r.sid, r.rid, r.event_tid, r.chain, bool_or(r.phase = {pre}) AS started_pre, max({rank}) AS event_rank
        FROM rows r
        SEMI JOIN candidates c ON c.sid = r.sid AND c.rid IS NOT DISTINCT FROM r.rid
                                  AND c.event_tid IS NOT DISTINCT FROM r.event_tid AND c.chain = r.chain
        GROUP BY r.sid, r.rid, r.event_tid, r.chain),
    qual AS (
        SELECT r.sid, r.tid, r.grade, r.onset, r.phase, r.upload_id, r.source_row, f.event_rank
        FROM rows r
        JOIN flags f ON f.sid = r.sid AND f.rid IS NOT DISTINCT FROM r.rid
                        AND f.event_tid IS NOT DISTINCT FROM r.event_tid AND f.chain = r.chain
        JOIN terms t ON t.tid = r.tid
        WHERE r.grade >= $grade_min AND r.onset <= $cut AND r.on_treatment AND (NOT f.started_pre OR r.worsening)
              {rules}),
    starts AS (
        SELECT s.sid, m.first_treatment, m.concurrent_start, m.maintenance_start
        FROM ms m JOIN subjects s USING (subject_id)),
    firsts AS (
        SELECT q.* FROM qual q JOIN starts s USING (sid) WHERE q.onset >= s.first_treatment {first}
        UNION
        SELECT q.* FROM qual q JOIN starts s USING (sid) WHERE q.phase = {conc} AND q.onset >= s.concurrent_start
        {first}
        UNION
        SELECT q.* FROM qual q JOIN starts s USING (sid) WHERE q.phase = {maint} AND q.onset >= s.maintenance_start
        {first})
    SELECT s.subject_id, t.term, CAST(q.grade AS DOUBLE) AS grade, CAST(q.onset AS TIMESTAMP) AS onset_date,
           {_attribution_label('q.event_rank')} AS attribution, {_phase_code('q.phase')} AS phase
    FROM firsts q JOIN subjects s USING (sid) JOIN terms t USING (tid)
    ORDER BY q.upload_id, q.source_row"""
    out = store.query(sql, params)
    return pd.DataFrame({
        "subject_id": out["subject_id"].to_numpy(dtype=object),
        "term": pd.array(out["term"].to_numpy(dtype=object), dtype="string"),
        "grade": out["grade"].to_numpy(dtype=float),
        "onset_date": out["onset_date"].to_numpy(dtype="datetime64[us]"),
        "attribution": pd.array(out["attribution"].to_numpy(dtype=object), dtype="string"),
        "te": np.ones(len(out), dtype=bool),
        "phase": pd.array(out["phase"].to_numpy(dtype=object), dtype="string"),
    })

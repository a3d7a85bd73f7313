"""Toxicity: incidence of treatment-emergent adverse events by SOC and term × worst grade × phase,
with the source rows behind any cell."""
import streamlit as st

from app import state
from app.text import md
from toxdb.i18n import _, current_language
from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.clinical.ctcae_v6 import derive_events_in_version
from toxdb.clinical.ctcae_versions import ctcae_version
from toxdb.clinical.events_sql import compute_incidence_sql
from toxdb.clinical.incidence import (
    ANY_AE,
    GRADE_COLUMNS,
    INCIDENCE_PHASES,
    compute_incidence,
    format_incidence,
    incidence_source_rows,
    select_cell_events,
)
from toxdb.plots.toxicity import plot_top_terms_grade3, plot_worst_grade_by_phase
from toxdb.vocab import ATTRIBUTION_ORDER

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
WINDOW = trial.phases.post_treatment_window_days


@st.cache_data(show_spinner=False, max_entries=64)
def _incidence(db: str, version: tuple, cut_key: tuple, window: int, sites: tuple, attribution: tuple,
               serious_only: bool, lang: str):      # lang: the footnote is in the reader's language
    return compute_incidence_sql(store, cut, window, sites=list(sites), attribution=list(attribution),
                                 serious_only=serious_only)


@st.cache_data(show_spinner=False, max_entries=16)
def _incidence_in(db: str, version: tuple, cut_key: tuple, window: int, sites: tuple, attribution: tuple,
                  serious_only: bool, lang: str, terms_version: str):
    """The incidence table with the AE terms in another CTCAE version (NCI's mapping, D35)."""
    d = state.derived_events()
    return compute_incidence(derive_events_in_version(d.events, terms_version), d.milestones, patients=d.patients,
                             sites=list(sites), attribution=list(attribution), serious_only=serious_only,
                             window_days=window)


@st.cache_data(show_spinner=False, max_entries=64)
def _cell_rows(db: str, version: tuple, cut_key: tuple, window: int, sites: tuple, attribution: tuple,
               serious_only: bool, phase: str, grade, soc, term):
    d = state.derived_events()      # the arguments key this cache; the derivation has its own
    cell = select_cell_events(d.events, d.milestones, phase, grade, soc=soc, term=term, patients=d.patients,
                              sites=list(sites), attribution=list(attribution), serious_only=serious_only)
    return incidence_source_rows(d.rows, cell, store.uploads())


@st.cache_data(show_spinner=False, max_entries=16)
def _sites(db: str, version: tuple, cut_key: tuple, window: int) -> list[str]:
    patients = state.snapshot_without_ae().patients       # the banner has read it already
    return sorted(patients["site"].dropna().unique().tolist())


key = (str(store.path), store.data_version(), cut.key(), WINDOW)

state.use_print_view()
st.title(_("Toxicity"))
terms_version = state.ctcae_terms_choice(st, "tox_terms")
st.caption(_("{trial} · {cut} · treatment-emergent adverse events, CTCAE v{version}").format(
    trial=trial.trial.id, cut=md(cut.label), version=terms_version))
state.printable_link()
record = ctcae_version(trial.ctcae.version)

f = st.columns([2, 3, 2, 1])
site_choices = _sites(*key)
# the filters are in the address (?phase=&attribution=&site=&serious=1): a link opens the same table
ADDRESS = [("tox_phase", "phase", list(INCIDENCE_PHASES)[2], list(INCIDENCE_PHASES), "one"),
           ("tox_attr", "attribution", [], list(ATTRIBUTION_ORDER), "many"),
           ("tox_sites", "site", [], list(site_choices), "many"),
           ("tox_serious", "serious", False, None, "flag")]
for k, param, default, choices, kind in ADDRESS:
    state.widget_from_address(k, param, default, choices, kind)
phase = f[0].selectbox(_("Phase"), list(INCIDENCE_PHASES), format_func=lambda p: _(INCIDENCE_PHASES[p]), key="tox_phase")
attribution = f[1].multiselect(_("Attribution"), list(ATTRIBUTION_ORDER), key="tox_attr", format_func=_,
                               placeholder=_("all attributions"),
                               help=_("Keep only events whose strongest attribution is one of these (empty: all)."))
sites = f[2].multiselect(_("Site"), site_choices, key="tox_sites", placeholder=_("all sites"),
                         help=_("Restricts both the patients at risk and their events."))
serious_only = f[3].checkbox(_("Serious only"), key="tox_serious")
for k, param, default, _choices, kind in ADDRESS:
    state.widget_to_address(k, param, default, kind)
filters = (tuple(sorted(sites)), tuple(a for a in ATTRIBUTION_ORDER if a in attribution), bool(serious_only))

result = (_incidence(*key, *filters, current_language()) if terms_version == record
          else _incidence_in(*key, *filters, current_language(), terms_version))
at_risk = result.summary["at_risk"]


def _phase_table(ph: str):
    """The rows of one phase, and its "any" row (patients at risk, grade >= 3)."""
    rows = result.table[result.table["phase"] == ph].reset_index(drop=True)
    return rows, rows.loc[rows["level"] == "any"].iloc[0]


table, g3 = _phase_table(phase)
c = st.columns(4)
c[0].metric(_("At risk: concurrent"), at_risk["concurrent"])
c[1].metric(_("At risk: maintenance"), at_risk["maintenance"])
c[2].metric(_("At risk: any treatment"), at_risk["all"])
c[3].metric(_("Grade ≥ 3 ({phase})").format(phase=_(INCIDENCE_PHASES[phase]).lower()), f"{g3['n_ge3']} ({g3['pct_ge3']:.1f}%)"
            if g3["at_risk"] else "–")
GRADE_SHOWN = {_(k): v for k, v in GRADE_COLUMNS.items()}


def _shown(rows):
    out = format_incidence(rows).drop(columns=["Phase"])
    out["System organ class"] = out["System organ class"].replace({ANY_AE: _(ANY_AE)})
    out.insert(0, "Level", rows["level"].map({"any": _("all"), "soc": _("SOC"), "term": _("term")}))
    return out.rename(columns=lambda c: _(c))          # English names marked in incidence.py


selection = None
# printed: every phase one after the other (the phase filter picks one on screen only), each table whole
for ph in (list(INCIDENCE_PHASES) if state.print_view() else [phase]):
    rows, any_row = _phase_table(ph)
    st.subheader(_("{phase}: patients by worst grade, n (% of {n} at risk)").format(phase=_(INCIDENCE_PHASES[ph]),
                                                                                 n=any_row["at_risk"]))
    shown = _shown(rows)
    if state.print_view():          # every row on paper (a scrolling grid prints only what is in view)
        st.table(shown)
    else:
        selection = st.dataframe(
            shown, hide_index=True, width="stretch", height=min(600, 38 + 35 * len(shown)), key="tox_table",
            on_select="rerun", selection_mode=["single-row", "single-cell"],
            column_config={_("Level"): st.column_config.TextColumn(),
                           _("At risk"): st.column_config.NumberColumn(width="small")},
        )
st.caption(result.summary["footnote"] + " " + state.ctcae_terms_note(terms_version))

# ---- drill-down (on screen only): a selected cell (or row = any grade), else the pickers below
def _drill_down() -> None:
    picked = None
    sel = selection.selection if selection is not None else None
    if sel is not None and sel.cells:
        r, col = sel.cells[0]
        picked = (int(r), GRADE_SHOWN.get(col, "any"))
    elif sel is not None and sel.rows:
        picked = (int(sel.rows[0]), "any")

    st.subheader(_("Source rows behind a count"))
    soc_shown = derive_ctcae_display(table["soc"].replace({ANY_AE: _(ANY_AE)}), "soc")
    term_shown = derive_ctcae_display(table["term"], "term")
    labels = [s if lvl != "term" else f"{s} › {t}" for s, t, lvl in zip(soc_shown, term_shown, table["level"])]
    p = st.columns([4, 2])
    choice = p[0].selectbox(_("Row"), range(len(table)), format_func=lambda i: labels[i], index=None, key="tox_row",
                            placeholder=_("select a cell in the table, or choose a row here"))
    grade_choice = p[1].selectbox(_("Grade"), list(GRADE_COLUMNS), index=len(GRADE_COLUMNS) - 1, key="tox_grade",
                                  format_func=_)
    if picked is None and choice is not None:
        picked = (int(choice), GRADE_COLUMNS[grade_choice])

    if picked is not None and picked[0] < len(table):
        row = table.iloc[picked[0]]
        soc = None if row["level"] == "any" else row["soc"]
        term = row["term"] if row["level"] == "term" else None
        src = _cell_rows(*key, *filters, phase, picked[1], soc, term)
        grade_label = _(next(k for k, v in GRADE_COLUMNS.items() if v == picked[1]))
        st.markdown(_("**{row}** · {grade} · {phase}: {patients} patients, {rows} rows").format(
            row=md(labels[picked[0]]), grade=grade_label, phase=_(INCIDENCE_PHASES[phase]),
            patients=src["subject_id"].nunique() if len(src) else 0, rows=len(src)))
        src = src.assign(term=derive_ctcae_display(src["term"], "term")) if "term" in src else src
        st.dataframe(src.rename(columns={
            "subject_id": _("Patient"), "term": _("Term"), "grade": _("Grade"), "onset_date": _("Onset (as recorded)"),
            "onset_imputed": _("Onset used"), "end_date": _("End"), "phase": _("Phase of row"), "serious": _("Serious"),
            "attribution": _("Attribution"), "event_id": _("Event"), "upload_id": _("Upload"), "file_name": _("File"),
            "source_row": _("Row in file")}), hide_index=True, width="stretch",
            column_config={_("Onset (as recorded)"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                           _("Onset used"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                           _("End"): st.column_config.DateColumn(format="YYYY-MM-DD")})
        st.caption(_("Each patient's worst event for this row (grade changes recorded over several rows shown "
                     "together); Upload and Row in file point to the uploaded file on the Uploads & audit page."))


if not state.print_view() and terms_version == record:
    _drill_down()
elif not state.print_view():
    st.caption(_("The source rows behind a count are listed in the terms as reported (CTCAE v{version}).").format(
        version=record))

left, right = st.columns(2)
with left:
    if at_risk["all"]:
        st.plotly_chart(plot_worst_grade_by_phase(result.table), width="stretch")
    else:                       # an empty chart would show axes without meaning
        st.info(_("No patient has started treatment at this cut: the worst grade by phase appears here once "
                  "treatment is uploaded."), icon=":material/bar_chart:")
for i, ph in enumerate(list(INCIDENCE_PHASES) if state.print_view() else [phase]):
    rows, _any = _phase_table(ph)
    with (right if i == 0 else st.container()):
        if int(rows.loc[rows["level"] == "term", "n_ge3"].sum()):
            st.plotly_chart(plot_top_terms_grade3(result.table, ph), width="stretch", key=f"tox_top_{ph}")
        else:
            st.info(_("No grade ≥ 3 adverse event in this phase at this cut.") + f" ({_(INCIDENCE_PHASES[ph])})"
                    if state.print_view() else _("No grade ≥ 3 adverse event in this phase at this cut."),
                    icon=":material/bar_chart:")

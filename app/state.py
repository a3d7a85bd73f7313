"""Streamlit helpers shared by the pages: the cached store, the data cut in view, identity.

All Streamlit code lives in app/ (this module, the pages); toxdb/ stays UI-free.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import streamlit as st

from toxdb.alerts.deliver import SmtpConfigError, read_smtp_config
from toxdb.alerts.outbox import compute_alert_counts
from toxdb.clinical.events import DerivedEvents, derive_snapshot_events
from toxdb.clinical.events_sql import read_first_qualifying_rows
from toxdb.i18n import LANGUAGES, _, current_language, ngettext, set_language
from toxdb.identity import current_role, current_user
from toxdb.ingest.upload import seed_sample
from toxdb.monitoring.status import compute_boundary_alerts
from toxdb.store.cuts import DataCut, list_saved_cuts, load_snapshot
from toxdb.store.db import Store, default_db_path
from toxdb.trial import load_trial, trial_fingerprint

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT / "sample_data"
_seed_lock = threading.Lock()
LANGUAGE_PARAM = "lang"     # ?lang=zh_CN in the address: the language survives a reload and a bookmark


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    store = Store(path)
    with _seed_lock:
        if store.status_counts()["uploads"] == 0 and os.environ.get("TOXDB_NO_SEED") != "1":
            seed_sample(store, SAMPLE_DIR)
    return store


def get_store() -> Store:
    with st.spinner(_("Opening the trial database…")):
        return _open_store(str(Path(default_db_path()).resolve()))


def get_trial():
    return load_trial()


def trial_key() -> str:
    """Fingerprint of the trial file's content. Every cached function whose result applies the trial's
    rules takes it as an argument, so editing trial.toml refreshes cached advice, cohorts and checks."""
    return trial_fingerprint()


def user() -> str:
    return current_user()


def data_cut() -> DataCut:
    """The cut chosen in the sidebar (live by default)."""
    return st.session_state.get("data_cut") or DataCut(dt.date.today())


def use_language() -> str:
    """Set this run's language, before any text is written: the reader's choice in the sidebar (kept
    in the session), else ``?lang=`` in the address, else the trial file's ``[trial] language``.

    The choice is mirrored into the address so that a reload, a bookmark or a link keeps it without
    a cookie or a server-side store; once users sign in, their choice can be stored with them."""
    code = st.session_state.get("language")
    if code not in LANGUAGES:
        code = st.query_params.get(LANGUAGE_PARAM)
        if code not in LANGUAGES:
            code = get_trial().trial.language
        st.session_state["language"] = code
    set_language(code)
    if st.query_params.get(LANGUAGE_PARAM) != code:
        st.query_params[LANGUAGE_PARAM] = code
    return code


def sidebar(store: Store) -> DataCut:
    trial = get_trial()
    with st.sidebar:
        st.selectbox(_("Language") + " / Language", list(LANGUAGES), format_func=LANGUAGES.get, key="language")
        st.markdown(f"**{trial.trial.id}**  \n{trial.trial.title}")
        st.caption(_("Database: `{path}`").format(path=store.path))
        saved = list_saved_cuts(store)
        options = ["live", "date"] + [c.name for c in saved]
        labels = {"live": _("Live (today)"), "date": _("Another date")}     # saved cuts show their name
        choice = st.selectbox(_("Data cut"), options, format_func=lambda k: labels.get(k, k), key="cut_choice",
                              help=_("Every page shows the trial as of this cut. A saved cut also freezes the "
                                     "data as they were stored when it was saved, so its numbers never change."))
        if choice == "date":
            day = st.date_input(_("Cut date"), value=dt.date.today(), max_value=dt.date.today(), key="cut_date")
            cut = DataCut(day)
        elif choice == "live":
            cut = DataCut(dt.date.today())
        else:
            cut = next(c for c in saved if c.name == choice)
        st.session_state["data_cut"] = cut
        st.caption(_("In view: {cut}").format(cut=cut.label))
        st.caption(_("Lab grades: CTCAE v{version} (version of record)").format(version=trial.ctcae.version))
        st.caption(_("Signed in as **{user}** ({role})").format(user=current_user(), role=current_role(trial)))
        alerts_sidebar(store)
    return cut


def alert_counts(store: Store) -> dict[str, int]:
    return _alert_counts(str(store.path), store.data_version())


@st.cache_data(show_spinner=False, max_entries=8)
def _alert_counts(db: str, version: tuple) -> dict[str, int]:
    return compute_alert_counts(get_store().alerts())


def smtp_problem() -> str | None:
    """Why e-mail alerts cannot go out (None when a mail server is configured)."""
    try:
        config = read_smtp_config()
    except SmtpConfigError as exc:
        return str(exc)
    return None if config is not None else _("No mail server is configured (TOXDB_SMTP_URL).")


def alerts_sidebar(store: Store) -> None:
    """Alerts not yet sent, loudly: they reach nobody until e-mail works."""
    counts = alert_counts(store)
    waiting = counts["pending"] + counts["failed"]
    if not waiting:
        return
    problem = smtp_problem()
    if problem:
        st.warning(ngettext("**{n} alert has not been sent**: {problem} Nobody has been told; see Alerts.",
                            "**{n} alerts have not been sent**: {problem} Nobody has been told; see Alerts.",
                            waiting).format(n=waiting, problem=problem), icon=":material/mail_lock:")
    else:
        st.warning(ngettext("**{n} alert is waiting to be sent** (failed attempts are retried); see Alerts.",
                            "**{n} alerts are waiting to be sent** (failed attempts are retried); see Alerts.",
                            waiting).format(n=waiting), icon=":material/schedule_send:")


def safety_banner(store: Store) -> None:
    """A banner on every page when a stopping boundary of the design of record is crossed."""
    for text in _alerts(str(store.path), store.data_version(), data_cut().key(), trial_key(), current_language()):
        st.error(text, icon=":material/report:")


@st.cache_data(show_spinner=False, max_entries=32)
def _alerts(db: str, version: tuple, cut_key: tuple, rules: str, lang: str) -> list[str]:
    trial = get_trial()
    snapshot, firsts = monitoring_inputs()
    return compute_boundary_alerts(snapshot, trial, events=firsts)


def monitoring_inputs():
    """(snapshot without adverse events, each patient's first qualifying AE rows per cohort) of the
    cut in view: what the stopping-boundary monitor needs, the AE part derived inside DuckDB."""
    store, trial = get_store(), get_trial()
    firsts = _first_qualifying_rows(str(store.path), store.data_version(), data_cut().key(), trial_key(),
                                    int(trial.phases.post_treatment_window_days))
    return snapshot_without_ae(), firsts


def snapshot_without_ae():
    """Patients and treatment of the cut in view (no adverse events), read once per data version."""
    store = get_store()
    return _snapshot_without_ae(str(store.path), store.data_version(), data_cut().key())


@st.cache_data(show_spinner=False, max_entries=16)
def _snapshot_without_ae(db: str, version: tuple, cut_key: tuple):
    return load_snapshot(get_store(), data_cut(), with_labs=False, with_ae=False)


@st.cache_data(show_spinner=False, max_entries=16)
def _first_qualifying_rows(db: str, version: tuple, cut_key: tuple, rules: str, window: int):
    return read_first_qualifying_rows(get_store(), data_cut(), window, get_trial().monitoring)


def derived_events() -> DerivedEvents:
    """The adverse events of the data cut in view, derived row by row (pandas) once per data version
    and cut and shared by every session: the rows behind a count on the Toxicity page."""
    store = get_store()
    window = int(get_trial().phases.post_treatment_window_days)
    with st.spinner(_("Deriving adverse events for this data cut…")):
        return _derived(str(store.path), store.data_version(), data_cut().key(), window)


# Up to a million derived rows: cache_resource hands the same read-only object to every session
# instead of pickling a copy per run.
@st.cache_resource(show_spinner=False, max_entries=2)
def _derived(db: str, version: tuple, cut_key: tuple, window: int) -> DerivedEvents:
    return derive_snapshot_events(load_snapshot(get_store(), data_cut(), with_labs=False), window)

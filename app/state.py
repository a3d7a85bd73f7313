"""Streamlit helpers shared by the pages: the cached store, the data cut in view, identity.

All Streamlit code lives in app/ (this module, the pages); toxdb/ stays UI-free.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import urllib.parse
from pathlib import Path

import streamlit as st

from toxdb.clinical.ctcae_versions import ctcae_version, other_version
from app.text import md
from toxdb.clinical.events import DerivedEvents, derive_snapshot_events
from toxdb.clinical.events_sql import read_first_qualifying_rows
from toxdb.i18n import LANGUAGES, _, current_language, ngettext, set_language
from toxdb.access import Person, acting_as, denial, local_person, scope
from toxdb.alerts.deliver import SmtpConfigError, read_smtp_config
from toxdb.alerts.outbox import compute_alert_counts
from toxdb.ingest.upload import seed_sample
from toxdb.monitoring.status import compute_boundary_alerts
from toxdb.store.cuts import DataCut, list_saved_cuts, load_snapshot
from toxdb.store.db import Store, StoreLockedError, default_db_path
from toxdb.trial import load_trial, trial_fingerprint
from toxdb.users import find_person

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT / "sample_data"
_seed_lock = threading.Lock()
LANGUAGE_PARAM = "lang"     # ?lang=zh_CN in the address: the language survives a reload and a bookmark
PRINT_PARAM, CUT_PARAM = "print", "cut"     # ?print=1&cut=NAME: a page laid out for paper, of that cut
# the printable view: no sidebar or toolbar, charts and short tables never split over pages (static CSS)
PRINT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1rem !important; max-width: 100% !important; }
[data-testid="stPlotlyChart"], [data-testid="stAlert"], [data-testid="stMetric"] {
  break-inside: avoid; page-break-inside: avoid; }
[data-testid="stTable"], [data-testid="stTable"] * { overflow: visible !important; max-height: none !important; }
[data-testid="stTable"] thead { display: table-header-group; }
[data-testid="stTable"] tr { break-inside: avoid; page-break-inside: avoid; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
[data-testid="stExpander"] details:not([open]) { display: none; }
@page { size: A4; margin: 12mm; }
</style>"""


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    store = Store(path, shared=True)          # holds the file only while it works (D45)
    with _seed_lock:
        if store.status_counts()["uploads"] == 0 and os.environ.get("TOXDB_NO_SEED") != "1":
            seed_sample(store, SAMPLE_DIR)
    return store


def base_store() -> Store:
    """The whole store, every site: for who-is-who (users) and writes that name their site."""
    with st.spinner(_("Opening the trial database…")):
        return _open_store(str(Path(default_db_path()).resolve()))


def get_store() -> Store:
    """The store as the person of this session may see it: their own site(s) only for a
    site-bound role (D64), so every page, chart, table, download and export built on it is scoped."""
    return base_store().scoped(scope(person(), get_trial()))


def get_trial():
    return load_trial()


def trial_key() -> str:
    """Fingerprint of the trial file's content. Every cached function whose result applies the trial's
    rules takes it as an argument, so editing trial.toml refreshes cached advice, cohorts and checks."""
    return trial_fingerprint()


# -- who is using this session (D60-D63) -------------------------------------------------------------
def sign_in_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's native sign-in)."""
    try:
        return "auth" in st.secrets
    except Exception:            # no secrets file at all
        return False


def signed_in_identity() -> str | None:
    """The e-mail the identity provider gave for this session (lower case), or None."""
    if not st.user.get("is_logged_in"):
        return None
    email = st.user.get("email") or st.user.get("sub")
    return str(email).strip().lower() if email else None


def person() -> Person | None:
    """Who is acting: in local mode the OS user as ``[roles] local_role``; with sign-in, the users
    row of the signed-in identity (None: not signed in, or signed in without a users row)."""
    if not sign_in_configured():
        return local_person(get_trial())
    return find_person(base_store(), signed_in_identity())


def user() -> str:
    """The identity the audit log records for this session's actions."""
    me = person()
    return me.identity if me is not None else "anonymous"


def allowed(action: str, site: str | None = None) -> bool:
    """toxdb.access.allowed for the person of this session."""
    return denial(person(), action, site, get_trial()) is None


def denial_text(action: str, site: str | None = None) -> str | None:
    """Why the person of this session may not take ``action`` (None when they may)."""
    return denial(person(), action, site, get_trial())


def require(action: str, site: str | None = None) -> None:
    """Stop the page with the worded reason unless the person of this session may take ``action``."""
    reason = denial(person(), action, site, get_trial())
    if reason is not None:
        st.error(reason, icon=":material/block:")
        st.stop()


def gate() -> Person:
    """Before any page: the person of this session, or a page that says why there is nothing to see
    (and stops). Local mode served to other machines shows nothing (D63); with sign-in, a person not
    signed in sees the sign-in button, one signed in without a users row (or disabled) a page saying
    so. The first run of a signed-in session is audited as a sign-in."""
    if not sign_in_configured():
        if served_to_other_machines():
            st.title(_("Sign-in is not configured"))
            st.error(_("This dashboard runs in local mode (no sign-in) but is being served to other machines, "
                       "so it shows nothing. Configure sign-in ([auth] in .streamlit/secrets.toml; see the "
                       "README, \"Serve several users\"), or listen on 127.0.0.1 only."), icon=":material/lock:")
            st.stop()
        return person()
    identity = signed_in_identity()
    if identity is None:
        st.title(_("toxdb · sign in"))
        st.write(_("Sign in with your hospital account to see the trial's data."))
        if st.button(_("Sign in"), type="primary", key="sign_in"):
            st.login()
        st.stop()
    me = person()
    if st.session_state.get("signed_in_as") != identity:
        st.session_state["signed_in_as"] = identity
        # under the provider's identity even without a users row: the log says who knocked
        base_store().record_audit(identity, "sign_in", {"identity": identity, "known": me is not None,
                                                        "site": me.sites[0] if me and len(me.sites) == 1 else None})
    if me is None or not me.active:
        st.title(_("No access"))
        message = (_("You are signed in as {identity}, but you are not a user of this dashboard. Ask a data "
                     "manager to add you.") if me is None else
                   _("You are signed in as {identity}, but your account is disabled. Ask a data manager."))
        st.warning(message.format(identity=identity), icon=":material/person_off:")
        sign_out("sign_out_unknown")
        st.stop()
    return me


def download_button(container, label: str, data, file_name: str, key: str, action: str = "report", **kwargs):
    """A download the person may make (``action``: "report" for tables and exports, "download_raw"
    for uploaded files and rejected rows), written to the audit log when pressed (the file, the right
    it used, the data cut in view and the sites the person sees); nothing is shown to a person who may
    not. Every download button of the dashboard is this one (tests/test_audit_app.py, D69)."""
    if not allowed(action):
        return None
    sites = scope(person(), get_trial())
    detail = {"file": file_name, "kind": action, "cut": data_cut().label,
              "sites": "all" if sites is None else list(sites)}
    return container.download_button(label, data, file_name=file_name, key=key, on_click=audit,
                                      args=("download", detail), **kwargs)


def sign_out(key: str) -> None:
    """The sign-out button: the audit log records the sign-out, then Streamlit signs the person out."""
    if st.button(_("Sign out"), key=key):
        identity = signed_in_identity() or user()     # as sign-in: the provider's identity, users row or not
        base_store().record_audit(identity, "sign_out", {"identity": identity})
        st.session_state.pop("signed_in_as", None)
        st.logout()


def run_page(navigation) -> None:
    """Run the chosen page; an error in it is shown in words and its details go to the server log
    (config.toml hides Streamlit's own traceback and help links)."""
    try:
        with acting_as(person()):      # core modules that act for someone (queries, reviews) see who
            navigation.run()
    except StoreLockedError as exc:    # a command-line import held the file too long (D45)
        st.error(md(exc), icon=":material/hourglass_top:")
    except Exception:
        logging.getLogger("toxdb").exception("page %s failed", getattr(navigation, "title", "?"))
        st.error(_("Something went wrong while showing this page. The details are in the server's log; "
                   "tell the data manager the time: {time}.").format(time=dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
                 icon=":material/error:")


def served_to_other_machines() -> bool:
    """True when the server listens beyond this machine or this browser is on another one."""
    # the option as the server was started with (config.toml, --server.address): AppTest patches
    # st.get_option with the defaults, so the loaded configuration is read itself
    from streamlit import config

    address = str(config.get_config_options()["server.address"].value or "")
    ip = st.context.ip_address           # None for a browser on this machine (a mock under AppTest)
    return address not in LOOPBACK or (isinstance(ip, str) and ip not in LOOPBACK)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def audit(action: str, detail: dict) -> None:
    """Record an action of this session's person in the audit log (downloads, exports, sign-in)."""
    base_store().record_audit(user(), action, detail)


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


def print_view() -> bool:
    """True when the address asks for the printable view (``?print=1``)."""
    return st.query_params.get(PRINT_PARAM) == "1"


def use_print_view() -> None:
    """In the printable view: hide the sidebar and toolbar, keep charts whole, and say what is printed."""
    if not print_view():
        return
    st.markdown(PRINT_CSS, unsafe_allow_html=True)
    st.caption(_("Printable view · {cut} · printed by {user} on {when}").format(
        cut=data_cut().label, user=user(), when=dt.datetime.now().strftime("%Y-%m-%d %H:%M")))


def tabs(titles: list[str]) -> list:
    """st.tabs on screen; in the printable view every tab's content one after the other, each under
    its title (a printed page shows only the open tab otherwise)."""
    if not print_view():
        return st.tabs(titles)
    out = []
    for title in titles:
        box = st.container()
        box.subheader(title)
        out.append(box)
    return out


def printable_link() -> None:
    """A link to the printable view of this page, of the cut in view and in the reader's language."""
    if print_view():
        return
    cut = data_cut()
    which = cut.name or cut.cut_date.isoformat()
    query = urllib.parse.urlencode({PRINT_PARAM: "1", LANGUAGE_PARAM: current_language(), CUT_PARAM: which})
    words = _("Printable view")         # outside the f-string, so that pybabel finds it
    st.markdown(f"[:material/print: {words}](?{query})")


def sidebar(store: Store) -> DataCut:
    trial = get_trial()
    with st.sidebar:
        st.selectbox(_("Language") + " / Language", list(LANGUAGES), format_func=LANGUAGES.get, key="language")
        info = trial.trial
        title = info.title_zh if current_language() == "zh_CN" and info.title_zh else info.title   # [trial] title_zh
        st.markdown(f"**{info.id}**  \n{title}")
        st.caption(_("Database: `{path}`").format(path=store.path))
        saved = list_saved_cuts(store)
        options = ["live", "date"] + [c.name for c in saved]
        _cut_from_address(options)
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
        _cut_to_address(cut)
        st.caption(_("In view: {cut}").format(cut=md(cut.label)))
        st.caption(_("Lab grades: CTCAE v{version} (version of record)").format(version=trial.ctcae.version))
        me = person()
        if not sign_in_configured():
            st.caption(_("Local mode: no sign-in; **{user}** acts as {role}.").format(user=me.identity, role=me.role))
        elif me is not None:
            sites = ", ".join(me.sites) if me.sites else _("all sites")
            st.caption(_("Signed in as **{user}** ({role}; {sites})").format(user=me.label, role=me.role, sites=sites))
            sign_out("sign_out")
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
    """A banner on every page when a stopping boundary of the design of record is crossed. Not for a
    person who sees some sites only: a boundary judged on part of the trial would mislead (D64)."""
    if getattr(store, "scope", None) is not None:
        return
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


def ctcae_terms_choice(container, key: str) -> str:
    """A switch between the CTCAE versions for adverse-event terms in a table (the version of record,
    as the sites report, first); returns "5.0" or "6.0" (D35: other terms through NCI's mapping)."""
    record = ctcae_version(get_trial().ctcae.version)
    options = [record, other_version(record)]
    labels = {record: _("CTCAE v{version} (as reported)").format(version=record),
              options[1]: _("CTCAE v{version} (NCI's mapping)").format(version=options[1])}
    chosen = container.radio(_("AE terms in"), options, format_func=labels.get, key=key, horizontal=True,
                             help=_("Show the adverse events under the other version's terms, through NCI's "
                                    "mapping of v5.0 to v6.0; the counts are made again with the mapped terms."))
    return chosen or record


def ctcae_terms_note(version: str) -> str:
    """The footnote that names the version of a table's AE terms."""
    record = ctcae_version(get_trial().ctcae.version)
    if version == record:
        return _("AE terms as the sites reported them, CTCAE v{version}.").format(version=version)
    return _("AE terms in CTCAE v{version} through NCI's v{record} to v{version} mapping (renamed, merged and "
             "split terms; a removed term under its organ class's 'Other, specify'); the sites reported them in "
             "CTCAE v{record}.").format(version=version, record=record)


def ctcae_choice(container, key: str) -> str:
    """A switch between the CTCAE versions for lab grades on one page (the version of record first and
    preselected); returns the chosen version ("5.0" or "6.0")."""
    record = ctcae_version(get_trial().ctcae.version)
    options = [record, other_version(record)]
    labels = {record: _("CTCAE v{version} (of record)").format(version=record),
              options[1]: _("CTCAE v{version}").format(version=options[1])}
    chosen = container.radio(_("Lab grades by"), options, format_func=labels.get, key=key, horizontal=True,
                             help=_("Grade the lab values by the other CTCAE version to see what it would say; "
                                    "the version of record stays the trial's."))
    return chosen or record


# -- links that open the same view (issue 12) ----------------------------------------------------
SUBJECT_PARAM = "subject"


def patient_link(subject_id: str) -> str:
    """The Patient page of ``subject_id`` in this reader's language and data cut: a link a colleague
    can open to see the same patient in the same view."""
    from urllib.parse import urlencode
    params = {SUBJECT_PARAM: str(subject_id), LANGUAGE_PARAM: current_language()}
    params.update(cut_params())
    return "patient?" + urlencode(params)


def cut_params() -> dict[str, str]:
    """The data cut in view as address parameters (empty for live data)."""
    cut = data_cut()
    if cut.name:
        return {CUT_PARAM: cut.name}
    if cut.cut_date != dt.date.today():
        return {CUT_PARAM: cut.cut_date.isoformat()}
    return {}



def subject_from_address(choices: list[str], key: str) -> None:
    """Before a patient picker keyed ``key`` is drawn: take ``?subject=`` from the address when it
    names a patient of ``choices`` (a followed link), so the picker opens on that patient."""
    wanted = st.query_params.get(SUBJECT_PARAM)
    if wanted in choices and st.session_state.get(f"_{key}_from_address") != wanted:
        st.session_state[key] = wanted
        st.session_state[f"_{key}_from_address"] = wanted


def subject_to_address(subject_id: str | None) -> None:
    """Keep the patient on view in the address, so a copied link opens the same patient."""
    if subject_id is not None and st.query_params.get(SUBJECT_PARAM) != str(subject_id):
        st.query_params[SUBJECT_PARAM] = str(subject_id)
        st.session_state["_patient_subject_from_address"] = str(subject_id)


def _cut_from_address(options: list[str]) -> None:
    """``?cut=NAME`` (a saved cut) or ``?cut=YYYY-MM-DD`` in a followed link chooses the data cut,
    once per address value (the reader's later choices in the sidebar win)."""
    wanted = st.query_params.get(CUT_PARAM)
    if not wanted or st.session_state.get("_cut_from_address") == wanted:
        return
    st.session_state["_cut_from_address"] = wanted
    if wanted in options[2:]:
        st.session_state["cut_choice"] = wanted
        return
    try:
        day = dt.date.fromisoformat(wanted)
    except ValueError:
        return
    if day <= dt.date.today():
        st.session_state["cut_choice"] = "date"
        st.session_state["cut_date"] = day


def _cut_to_address(cut: DataCut) -> None:
    """Mirror the cut in view into the address (removed for live data), so a copied link keeps it."""
    params = cut_params()
    value = params.get(CUT_PARAM)
    if value is None and CUT_PARAM in st.query_params:
        del st.query_params[CUT_PARAM]
    elif value is not None and st.query_params.get(CUT_PARAM) != value:
        st.query_params[CUT_PARAM] = value
    if value is not None:
        st.session_state["_cut_from_address"] = value


def widget_from_address(key: str, param: str, default, choices=None, kind: str = "one") -> None:
    """Before the widget ``key`` is drawn: its value from ``?param=`` in the address (a followed link),
    once per address value, else ``default`` on first use. ``kind``: "one" (a choice), "many" (a
    multiselect: ``?param=a&param=b``), "flag" (``?param=1``) or "int". Values not among ``choices``
    are ignored. The widget is then drawn without its own default (Streamlit's rule for widgets whose
    value the session sets)."""
    raw = st.query_params.get_all(param) if kind == "many" else st.query_params.get(param)
    marker = f"_address_{key}"
    if raw and st.session_state.get(marker) != raw:
        st.session_state[marker] = raw
        value = _parse_param(raw, kind)
        if value is not None and (choices is None or (set(value) <= set(choices) if kind == "many"
                                                      else value in choices)):
            st.session_state[key] = value
    st.session_state.setdefault(key, default)


def widget_to_address(key: str, param: str, default, kind: str = "one") -> None:
    """After the widget ``key``: its value into the address (left out while it is the default), so a
    copied link opens the same view."""
    value = st.session_state.get(key)
    if kind == "many":
        raw = [str(v) for v in (value or [])]
    elif kind == "flag":
        raw = "1" if value else ""
    else:
        raw = "" if value is None else str(value)
    is_default = value == default or not raw
    current = st.query_params.get_all(param) if kind == "many" else st.query_params.get(param)
    if is_default:
        if param in st.query_params:
            del st.query_params[param]
    elif current != raw:
        st.query_params[param] = raw
    st.session_state[f"_address_{key}"] = None if is_default else raw


def _parse_param(raw, kind: str):
    if kind == "many":
        return list(raw)
    if kind == "flag":
        return raw in ("1", "true", "yes")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            return None
    return raw

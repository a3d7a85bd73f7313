"""toxdb dashboard entry point: page config, sidebar, and the page router."""
from pathlib import Path

import streamlit as st

from app import state
from toxdb.i18n import _

st.set_page_config(page_title="toxdb · NCT07063888", page_icon=":material/health_and_safety:", layout="wide")

state.use_language()          # before any text: every string below is in the reader's language
state.gate()                  # who is this (sign-in, users row, local mode); stops when nobody may see
store = state.get_store()
state.sidebar(store)
state.safety_banner(store)

HERE = Path(__file__).resolve().parent
# section -> (file, title, icon); every page file in app/pages/ is listed here
SECTIONS = {
    _("Trial"): [("week.py", _("This week"), ":material/event_upcoming:"),
                 ("overview.py", _("Overview"), ":material/dashboard:"),
                 ("toxicity.py", _("Toxicity"), ":material/table_chart:"),
                 ("patient.py", _("Patient"), ":material/person:"),
                 ("dose_advice.py", _("Dose advice"), ":material/medication:"),
                 ("monitoring.py", _("Monitoring"), ":material/monitoring:")],
    _("Safety committee"): [("safety.py", _("SAEs and deaths"), ":material/emergency:"),
                            ("report.py", _("Committee report"), ":material/summarize:"),
                            ("ctcae_versions.py", _("CTCAE v5 vs v6"), ":material/difference:")],
    _("Data"): [("upload.py", _("Upload"), ":material/upload_file:"),
                ("queries.py", _("Queries"), ":material/forum:"),
                ("labs.py", _("Lab queries"), ":material/science:"),
                ("eligibility.py", _("Registration checks"), ":material/fact_check:"),
                ("timeliness.py", _("Site timeliness"), ":material/schedule:"),
                ("compare.py", _("Compare data cuts"), ":material/compare_arrows:"),
                ("history.py", _("Uploads & audit"), ":material/history:"),
                ("alerts.py", _("Alerts"), ":material/notifications_active:"),
                ("admin.py", _("Admin"), ":material/admin_panel_settings:")],
}
# a page whose action the person may not take is not offered (the page checks again itself)
NEEDS = {"upload.py": "upload", "admin.py": "users"}
pages = {
    section: [st.Page(f"app/pages/{f}", title=t, icon=i, default=(f == "week.py"))
              for f, t, i in entries if (HERE / "app" / "pages" / f).exists() and state.allowed(NEEDS.get(f, "view"))]
    for section, entries in SECTIONS.items()
}
state.run_page(st.navigation(pages, expanded=True))    # every page listed, none behind "more"

"""toxdb dashboard entry point: page config, sidebar, and the page router."""
from pathlib import Path

import streamlit as st

from app import state
from toxdb.i18n import _

st.set_page_config(page_title="toxdb · NCT07063888", page_icon=":material/health_and_safety:", layout="wide")

state.use_language()          # before any text: every string below is in the reader's language
store = state.get_store()
state.sidebar(store)
state.safety_banner(store)

HERE = Path(__file__).resolve().parent
# section -> (file, title, icon); every page file in app/pages/ is listed here
SECTIONS = {
    _("Trial"): [("overview.py", _("Overview"), ":material/dashboard:"),
                 ("toxicity.py", _("Toxicity"), ":material/table_chart:"),
                 ("patient.py", _("Patient"), ":material/person:"),
                 ("dose_advice.py", _("Dose advice"), ":material/medication:"),
                 ("monitoring.py", _("Monitoring"), ":material/monitoring:")],
    _("Data"): [("upload.py", _("Upload"), ":material/upload_file:"), ("labs.py", _("Lab queries"), ":material/science:"),
                ("eligibility.py", _("Registration checks"), ":material/fact_check:"),
                ("history.py", _("Uploads & audit"), ":material/history:"),
                ("alerts.py", _("Alerts"), ":material/notifications_active:")],
}
pages = {
    section: [st.Page(f"app/pages/{f}", title=t, icon=i, default=(f == "overview.py"))
              for f, t, i in entries if (HERE / "app" / "pages" / f).exists()]
    for section, entries in SECTIONS.items()
}
st.navigation(pages).run()

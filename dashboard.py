"""toxdb dashboard entry point: page config, sidebar, and the page router."""
from pathlib import Path

import streamlit as st
from app import state

st.set_page_config(page_title="toxdb · NCT07063888", page_icon=":material/health_and_safety:", layout="wide")

store = state.get_store()
state.sidebar(store)
state.safety_banner(store)

HERE = Path(__file__).resolve().parent
# section -> (file, title, icon); every page file in app/pages/ is listed here
SECTIONS = {
    "Trial": [("overview.py", "Overview", ":material/dashboard:"), ("toxicity.py", "Toxicity", ":material/table_chart:"),
              ("patient.py", "Patient", ":material/person:"), ("dose_advice.py", "Dose advice", ":material/medication:"),
              ("monitoring.py", "Monitoring", ":material/monitoring:")],
    "Data": [("upload.py", "Upload", ":material/upload_file:"), ("labs.py", "Lab queries", ":material/science:"),
             ("eligibility.py", "Registration checks", ":material/fact_check:"),
             ("history.py", "Uploads & audit", ":material/history:")],
}
pages = {
    section: [st.Page(f"app/pages/{f}", title=t, icon=i, default=(f == "overview.py"))
              for f, t, i in entries if (HERE / "app" / "pages" / f).exists()]
    for section, entries in SECTIONS.items()
}
st.navigation(pages).run()

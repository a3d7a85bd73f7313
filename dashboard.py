"""toxdb dashboard entry point: page config, sidebar, and the page router."""
from pathlib import Path

import streamlit as st

import ui

st.set_page_config(page_title="toxdb · NCT07063888", page_icon="🩺", layout="wide")

store = ui.get_store()
ui.sidebar(store)
ui.safety_banner(store)

HERE = Path(__file__).resolve().parent
# section -> (file, title, icon); every page file present in pages/ is listed here
SECTIONS = {
    "Trial": [("overview.py", "Overview", "📋"), ("toxicity.py", "Toxicity", "📊"),
              ("patient.py", "Patient", "🧍"), ("dose_advice.py", "Dose advice", "💊"),
              ("monitoring.py", "Monitoring", "🛑")],
    "Data": [("upload.py", "Upload", "📤"), ("labs.py", "Lab queries", "🧪"),
             ("history.py", "Uploads & audit", "🗂️")],
}
pages = {
    section: [st.Page(f"pages/{f}", title=t, icon=i, default=(f == "overview.py"))
              for f, t, i in entries if (HERE / "pages" / f).exists()]
    for section, entries in SECTIONS.items()
}
st.navigation(pages).run()

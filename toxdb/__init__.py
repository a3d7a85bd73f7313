"""toxdb: the adverse-event toxicity store and its clinical rules (never imports streamlit)."""
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"     # rules and vocabularies as data

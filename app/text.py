"""User text in Markdown elements: shown as the characters it is, never as Markdown (decision D44).

Streamlit renders st.markdown, st.caption, st.info/success/warning/error, st.toast, st.table cells,
expander and widget labels as Markdown (links, images, emphasis, ``:colour[...]`` directives, LaTeX
between dollars). Every file name, term, verbatim, site, header or comment that reaches one of them
goes through :func:`md`; CommonMark treats a backslash before any ASCII punctuation as that
character, so nothing in the text can start a Markdown construct.
"""
from __future__ import annotations

import re
import string

import pandas as pd

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")


def md(value) -> str:
    """``value`` as literal text inside Markdown (line breaks become spaces)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = " ".join(str(value).splitlines())
    return _PUNCT.sub(r"\\\1", text)


def md_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for st.table (which renders Markdown in cells and headers), every cell and header escaped."""
    out = frame.copy()
    out.columns = [md(c) for c in out.columns]
    for c in out.columns:
        out[c] = out[c].map(md)
    if out.index.name is not None:
        out.index = out.index.map(md)
        out.index.name = md(frame.index.name)
    return out

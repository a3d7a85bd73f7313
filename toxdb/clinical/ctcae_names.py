"""CTCAE system organ classes and terms as a reader of another language sees them.

Data: ``toxdb/data/ctcae_names_zh.csv`` (kind ``soc`` or ``term``, the English name as NCI writes it,
the Simplified Chinese name). The SOC names follow MedDRA's Chinese edition; the terms are the ones
this trial meets most, written by the team and awaiting review by a Chinese-speaking clinician
(docs/decisions.md D33). A name the table lacks is shown in English. The English name always
stays beside the translation, so a reader can match it to the protocol and to NCI's dictionary.

Public API
----------
ctcae_display_name(text, kind="term", language=None) -> "腹泻（Diarrhea）" in Chinese, the text as is otherwise
derive_ctcae_display(values, kind="term", language=None) -> the same for a column (each distinct value once)
"""
from __future__ import annotations

import csv
import functools
from typing import Any

import pandas as pd

from toxdb import DATA_DIR
from toxdb.i18n import current_language

NAMES_CSV = {"zh_CN": DATA_DIR / "ctcae_names_zh.csv"}
KINDS = ("soc", "term")

__all__ = ["ctcae_display_name", "derive_ctcae_display", "ctcae_names"]


@functools.lru_cache(maxsize=4)
def ctcae_names(language: str) -> dict[tuple[str, str], str]:
    """(kind, English name) -> name in ``language``; empty for a language without a table."""
    path = NAMES_CSV.get(language)
    if path is None:
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {(row["kind"], row["english"]): row["chinese"] for row in csv.DictReader(fh)}


def ctcae_display_name(text: Any, kind: str = "term", language: str | None = None) -> Any:
    """``text`` (a CTCAE SOC or term in English) as shown to a reader of ``language`` (default: the
    language in use): the translation followed by the English name in brackets, or ``text`` unchanged
    when the table has no name for it (or the language is English). Missing values stay missing."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return text
    name = ctcae_names(language or current_language()).get((kind, str(text)))
    return f"{name}（{text}）" if name else text


def derive_ctcae_display(values: pd.Series, kind: str = "term", language: str | None = None) -> pd.Series:
    """``ctcae_display_name`` for every value of a column, each distinct value looked up once."""
    language = language or current_language()
    if not ctcae_names(language):
        return values
    distinct = pd.unique(values.dropna())
    lookup = {v: ctcae_display_name(v, kind, language) for v in distinct}
    return values.map(lookup).where(values.notna(), values)

"""Data cuts: every view is "as of" a cut, so the same cut gives the same numbers.

A cut has a clinical date (events, cycles and labs after it are not counted) and, when it was saved,
the moment its data were frozen (rows loaded or corrected later are not seen through it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from toxdb.i18n import _
from toxdb.store.db import Store


@dataclass(frozen=True)
class DataCut:
    cut_date: dt.date
    frozen_at: dt.datetime | None = None   # None: data as stored now; when the cut was saved
    name: str | None = None
    frozen_upload: int | None = None       # the last upload the cut holds: what freezes it (D41)

    @property
    def as_of(self) -> int | dt.datetime | None:
        """What the store reads the cut's rows as of: the upload number, else (an unsaved cut built
        with a time) that time, else None for the data as stored now."""
        return self.frozen_upload if self.frozen_upload is not None else self.frozen_at

    @property
    def label(self) -> str:
        if self.name and self.frozen_upload is not None:
            return _("{name} (cut {day:%Y-%m-%d}, data frozen at upload #{upload}, {at:%Y-%m-%d %H:%M})").format(
                name=self.name, day=self.cut_date, upload=self.frozen_upload, at=self.frozen_at)
        if self.frozen_at is not None and not self.name:
            return _("{day:%Y-%m-%d} (data as stored at {at:%Y-%m-%d %H:%M})").format(day=self.cut_date, at=self.frozen_at)
        if self.name:
            return _("{name} (cut {day:%Y-%m-%d}, data frozen {at:%Y-%m-%d %H:%M})").format(
                name=self.name, day=self.cut_date, at=self.frozen_at)
        if self.cut_date == dt.date.today():
            return _("live (today, {day:%Y-%m-%d})").format(day=self.cut_date)
        return _("cut {day:%Y-%m-%d} (data as stored now)").format(day=self.cut_date)

    def key(self) -> tuple:
        return (self.cut_date.isoformat(), self.frozen_at.isoformat() if self.frozen_at else None,
                self.frozen_upload)


def list_saved_cuts(store: Store) -> list[DataCut]:
    cuts = store.data_cuts()
    return [DataCut(pd.Timestamp(r.cut_date).date(), pd.Timestamp(r.frozen_at).to_pydatetime(), r.name,
                    None if pd.isna(r.frozen_upload) else int(r.frozen_upload))
            for r in cuts.itertuples(index=False)]


@dataclass
class Snapshot:
    """The four tables as of a cut."""
    cut: DataCut
    patients: pd.DataFrame
    treatment: pd.DataFrame
    adverse_events: pd.DataFrame | None
    labs: pd.DataFrame | None = None


# adverse-event text columns with few distinct values: read as categoricals (see Store.read_kind)
AE_CODED = ("subject_id", "ae_ref", "term", "soc", "onset_precision", "attribution", "attributed_to")


def load_snapshot(store: Store, cut: DataCut, with_labs: bool = True, with_ae: bool = True,
                  subjects: list[str] | None = None) -> Snapshot:
    """The tables as of ``cut``; labs or adverse events left out (None) when a view does not need
    them (the adverse events are by far the largest table); ``subjects``: only these patients."""
    read = lambda kind, coded=(): store.read_kind(kind, as_of=cut.as_of, until=cut.cut_date,  # noqa: E731
                                                  coded=coded, subjects=subjects)
    return Snapshot(
        cut,
        patients=read("patients"),
        treatment=read("treatment"),
        adverse_events=read("ae", AE_CODED) if with_ae else None,
        labs=read("labs") if with_labs else None,
    )


# -- comparing two cuts (decision D70) -----------------------------------------------------------


class UnknownCut(ValueError):
    """A cut named on the command line or in an address that is neither a saved cut nor a date."""


def resolve_cut(store: Store, text: str, today: dt.date | None = None) -> DataCut:
    """A saved cut by name, else a date YYYY-MM-DD: the trial as of that day *with the data as stored
    at the end of that day* (D70), so that two dates compare what was known then. Today is live data."""
    text = str(text).strip()
    for cut in list_saved_cuts(store):
        if cut.name == text:
            return cut
    today = today or dt.date.today()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        names = ", ".join(c.name for c in list_saved_cuts(store)) or "none saved"
        raise UnknownCut(f"{text!r} is neither a saved cut ({names}) nor a date YYYY-MM-DD") from None
    if day > today:
        raise UnknownCut(f"{text} is after today ({today:%Y-%m-%d}); a cut cannot be in the future")
    if day == today:
        return DataCut(day)
    return DataCut(day, dt.datetime.combine(day, dt.time(23, 59, 59)))


def read_cut_changes(store: Store, a: DataCut, b: DataCut, kind: str) -> pd.DataFrame:
    """The rows of ``kind`` that differ between cut ``a`` and cut ``b``: for each record seen through
    one cut and not the other, or seen through both with different values, its row as seen through
    ``a`` (side 'a') and/or through ``b`` (side 'b'), with record_key, version, upload_id, valid_from
    and the data columns.

    Only records that could differ are joined: a record none of whose versions began or ended
    between the two freeze times and whose clinical date is not between the two cut dates looks the
    same through both cuts. That keeps a weekly comparison of a million-row table to its few changes.
    """
    views = (a.as_of, b.as_of)
    if any(isinstance(v, dt.datetime) for v in views):      # a cut frozen by time only: compare by time
        views = (a.frozen_at, b.frozen_at)
    return store.changed_rows(kind, (views[0], a.cut_date), (views[1], b.cut_date))


class CutNameError(ValueError):
    """A cut that cannot be saved under this name or date, in words for the person saving it."""


def save_cut(store: Store, name: str, cut_date: dt.date, user: str, today: dt.date | None = None) -> DataCut:
    """Freeze the data as stored now under ``name`` (audited by the store). A name must be new, and
    may not look like a date: ``diff`` and the address read a date as a date, not as a cut's name."""
    name = (name or "").strip()
    today = today or dt.date.today()
    if not name:
        raise CutNameError("a data cut needs a name, e.g. 'DSMB 2026-12'")
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        pass
    else:
        raise CutNameError(f"{name!r} reads as a date; name the cut in words, e.g. 'DSMB {name}'")
    if cut_date > today:
        raise CutNameError(f"the cut date {cut_date:%Y-%m-%d} is after today ({today:%Y-%m-%d})")
    if name in {c.name for c in list_saved_cuts(store)}:
        raise CutNameError(f"a cut named {name!r} exists already; choose another name")
    store.save_data_cut(name, cut_date, user)
    return next(c for c in list_saved_cuts(store) if c.name == name)

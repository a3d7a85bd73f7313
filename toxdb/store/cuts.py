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
        if self.name:
            return f"{self.name} (cut {self.cut_date:%Y-%m-%d}, data frozen {self.frozen_at:%Y-%m-%d %H:%M})"
        if self.cut_date == dt.date.today():
            return f"live (today, {self.cut_date:%Y-%m-%d})"
        return f"cut {self.cut_date:%Y-%m-%d} (data as stored now)"

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


def load_snapshot(store: Store, cut: DataCut, with_labs: bool = True, with_ae: bool = True) -> Snapshot:
    """The tables as of ``cut``; labs or adverse events left out (None) when a view does not need
    them (the adverse events are by far the largest table)."""
    read = lambda kind, coded=(): store.read_kind(kind, as_of=cut.as_of, until=cut.cut_date,  # noqa: E731
                                                  coded=coded)
    return Snapshot(
        cut,
        patients=read("patients"),
        treatment=read("treatment"),
        adverse_events=read("ae", AE_CODED) if with_ae else None,
        labs=read("labs") if with_labs else None,
    )

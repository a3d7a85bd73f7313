"""The store as seen by a person limited to some sites (D64).

``Store.scoped(sites)`` returns a ``ScopedStore``: the same DuckDB connection, whose reads return only
what belongs to patients of those sites: every kind's snapshot (so every derivation, page, chart,
download and export built on it), row histories, uploads made for those sites with their raw files
and rejected rows, acknowledgements, mapping versions and the audit entries about those sites or
their patients. Writes are the store's own. Its data version carries the scope, so caches keyed on it
never hand one person's rows to another.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from toxdb.store.db import Store
from toxdb.vocab import KIND_TABLES


def _literal_list(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


class ScopedStore(Store):
    """Do not construct directly: ``store.scoped(sites)``."""

    scope: tuple[str, ...]

    @classmethod
    def over(cls, store: Store, sites) -> "ScopedStore":
        scoped = cls.__new__(cls)
        scoped.__dict__.update({k: v for k, v in store.__dict__.items()})
        scoped.scope = tuple(sorted(set(sites)))
        scoped.base = store
        return scoped

    # -- the connection is the base store's (it opens and lets go of the file on demand, D45) ------
    def _shared(name: str):          # noqa: N805 (a property factory used in the class body)
        return property(lambda self: getattr(self.base, name), lambda self, value: setattr(self.base, name, value))

    _con = _shared("_con")
    _timer = _shared("_timer")
    _active = _shared("_active")
    del _shared

    # -- the filter ------------------------------------------------------------------------------
    def _subjects_sql(self) -> str:
        return (f"SELECT subject_id FROM patients WHERE valid_to IS NULL"
                f" AND list_contains({_literal_list(self.scope)}, site)")

    def _in_scope(self, column: str = "subject_id") -> str:
        return f"{column} IN ({self._subjects_sql()})"

    def snapshot_sql(self, kind: str, as_of: dt.datetime | None = None, until: dt.date | None = None,
                     all_columns: bool = False) -> str:
        return f"{super().snapshot_sql(kind, as_of, until, all_columns)} AND {self._in_scope()}"

    def read_kind(self, kind: str, as_of=None, until=None, with_history: bool = False,
                  with_version_columns: bool = False, coded: tuple[str, ...] = (),
                  subjects: list[str] | None = None) -> pd.DataFrame:
        if with_history:
            self.data_columns(kind)                       # an unknown kind is refused in words
            return self.query(f"SELECT * FROM {KIND_TABLES[kind]} WHERE {self._in_scope()} ORDER BY record_key, version")
        return super().read_kind(kind, as_of, until, False, with_version_columns, coded, subjects)

    def data_version(self) -> tuple:
        return (*super().data_version(), ("scope", *self.scope))

    def sites(self) -> list[str]:
        return list(self.scope)

    def other_treatments_of(self, subject_id: str, as_of_upload: int | None = None, until=None) -> pd.DataFrame:
        frame = super().other_treatments_of(subject_id, as_of_upload, until)
        mine = set(self.query(self._subjects_sql())["subject_id"])
        return frame if subject_id in mine else frame.iloc[0:0]

    def flags(self, upload_id: int | None = None, site: str | None = None) -> pd.DataFrame:
        frame = super().flags(upload_id, site)
        mine = set(self.query(self._subjects_sql())["subject_id"])
        keep = frame["subject_id"].isin(mine) | (frame["subject_id"].isna() & frame["site"].isin(self.scope))
        return frame[keep].reset_index(drop=True)

    # -- uploads and what they kept --------------------------------------------------------------
    def _upload_ids(self) -> set[int]:
        rows = self.cursor().execute(
            f"SELECT upload_id FROM uploads WHERE list_contains({_literal_list(self.scope)}, site)").fetchall()
        return {r[0] for r in rows}

    def uploads(self) -> pd.DataFrame:
        frame = super().uploads()
        return frame[frame["site"].isin(self.scope)].reset_index(drop=True)

    def upload_raw(self, upload_id: int) -> bytes | None:
        return super().upload_raw(upload_id) if int(upload_id) in self._upload_ids() else None

    def rejected_rows(self, upload_id: int | None = None, status: str | None = "rejected") -> pd.DataFrame:
        frame = super().rejected_rows(upload_id, status)
        return frame[frame["upload_id"].isin(self._upload_ids())].reset_index(drop=True)

    def upload_by_hash(self, sha256: str, kind: str) -> dict | None:
        found = super().upload_by_hash(sha256, kind)
        # the same file uploaded for another site: say "already uploaded" without naming it
        if found is not None and found["upload_id"] not in self._upload_ids():
            return {**found, "file_name": "(another site's upload)", "uploaded_by": "(another site)"}
        return found

    def acknowledgements(self) -> pd.DataFrame:
        frame = super().acknowledgements()
        return frame[frame["subject_id"].isin(self._scoped_subjects())].reset_index(drop=True)

    def _scoped_subjects(self) -> set[str]:
        return {r[0] for r in self.cursor().execute(self._subjects_sql()).fetchall()}

    def mapping_versions(self, site: str | None = None) -> pd.DataFrame:
        frame = super().mapping_versions(site)
        return frame[frame["site"].isin(self.scope)].reset_index(drop=True)

    def alerts(self, alert_ids: list[int] | None = None) -> pd.DataFrame:
        """Alerts about these sites' patients, boundary alerts (counts, no patient) and digests that
        list only these sites' events; never another site's patient (D98)."""
        frame = super().alerts(alert_ids)
        mine = frame["site"].isin(self.scope).to_numpy(dtype=bool)
        events = frame[frame["digest_id"].notna()]
        foreign = set(events.loc[~events["site"].isin(self.scope), "digest_id"].astype(int))
        digest_ok = (frame["kind"] == "digest").to_numpy(dtype=bool) & ~frame["alert_id"].isin(foreign).to_numpy(dtype=bool)
        keep = mine | (frame["kind"] == "boundary").to_numpy(dtype=bool) | digest_ok
        return frame[keep].reset_index(drop=True)

    def saved_value_maps(self, site: str | None = None) -> pd.DataFrame:
        frame = super().saved_value_maps(site)
        return frame[frame["site"].isin(self.scope)].reset_index(drop=True)

    # -- the audit log: entries about these sites or their patients ------------------------------
    def _audit_filter(self, actor, action, since, until) -> tuple[str, list]:
        where, params = super()._audit_filter(actor, action, since, until)
        mine = (f"(list_contains({_literal_list(self.scope)}, json_extract_string(detail, '$.site'))"
                f" OR json_extract_string(detail, '$.subject_id') IN ({self._subjects_sql()}))")
        return (f"{where} AND {mine}" if where else f"WHERE {mine}"), params

    def verify_audit(self):
        raise PermissionError("the whole audit chain is checked by a data manager, not through a site's view")

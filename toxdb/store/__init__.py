"""The store: the only package that talks to DuckDB (``db.py``), its one schema file with
migrations (``schema.sql``), and data cuts (``cuts.py``: every view is as of a cut)."""
from toxdb.store.db import (
                            CommitCounts,
                            Store,
                            StoreError,
                            StoreLockedError,
                            default_db_path,
                            open_store,
                            pack_raw,
)

__all__ = ["CommitCounts", "Store", "StoreError", "StoreLockedError", "default_db_path", "open_store", "pack_raw"]

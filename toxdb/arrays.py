"""Small array helpers shared by the vectorised derivations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def take_text(values: list, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """values[code] for every row as a pyarrow-backed string array; code -1 (or a None value) gives <NA>.

    This is how a per-distinct-value result is spread back over a million rows without building a
    million Python strings."""
    codes = np.asarray(codes)
    table = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    idx = pa.array(codes, mask=codes < 0, type=pa.int64())
    return pd.array(table.take(idx), dtype=pd.StringDtype("pyarrow"))

"""How much memory reading an .xlsx sheet would take, estimated from the zip without reading cells.

Cells that share a string (``t="s"``) each become their own text once read, so a sheet's cost is
its number of cells times a per-cell overhead plus, for every shared-string reference, the length
of the string it names. Both are found by scanning the XML in chunks with byte patterns: memory stays
at a chunk whatever the file (decision D43).
"""
from __future__ import annotations

import re
import zipfile

import numpy as np

CELL_OVERHEAD_BYTES = 80         # a Python object per cell plus list slots, as the readers build them
_CHUNK = 8 << 20
_SHARED_REF = re.compile(rb'<c\b[^>]*?\bt="s"[^>]*>\s*<v>(\d+)</v>')
_CELL = re.compile(rb"<c\b")
_SI_END = b"</si>"


def estimate_sheet_bytes(zf: zipfile.ZipFile) -> dict[str, float]:
    """{sheet part name: estimated bytes once read} for every worksheet of the workbook."""
    names = set(zf.namelist())
    lengths = _shared_string_sizes(zf) if "xl/sharedStrings.xml" in names else np.zeros(0, dtype=np.int64)
    return {name: _sheet_bytes(zf, name, lengths) for name in sorted(names)
            if name.startswith("xl/worksheets/") and name.endswith(".xml")}


def _chunks(zf: zipfile.ZipFile, name: str, boundary: bytes):
    """The part's bytes in chunks that end just after a ``boundary`` (so no pattern is cut)."""
    rest = b""
    with zf.open(name) as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                break
            buf = rest + block
            cut = buf.rfind(boundary)
            if cut < 0:
                rest = buf
                continue
            cut += len(boundary)
            yield buf[:cut]
            rest = buf[cut:]
    if rest:
        yield rest


def _shared_string_sizes(zf: zipfile.ZipFile) -> np.ndarray:
    """Bytes of each shared string's XML (an upper bound of its text's length: markup included)."""
    ends: list[int] = []
    offset = 0
    for chunk in _chunks(zf, "xl/sharedStrings.xml", _SI_END):
        at = chunk.find(_SI_END)
        while at >= 0:
            ends.append(offset + at)
            at = chunk.find(_SI_END, at + 1)
        offset += len(chunk)
    return np.diff(np.asarray([0, *ends], dtype=np.int64))


def _sheet_bytes(zf: zipfile.ZipFile, name: str, lengths: np.ndarray) -> float:
    cells, text = 0, 0
    for chunk in _chunks(zf, name, b"</c>"):
        cells += len(_CELL.findall(chunk))
        found = _SHARED_REF.findall(chunk)
        refs = np.array(found, dtype="S").astype(np.int64) if found else np.zeros(0, dtype=np.int64)
        refs = refs[refs < len(lengths)]
        text += int(lengths[refs].sum()) if len(refs) else 0
    return float(cells * CELL_OVERHEAD_BYTES + text)

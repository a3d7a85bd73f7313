"""Readers: bytes of an uploaded file in, a table of text cells out.

Every reader returns a :class:`RawTable` whose cells are strings exactly as the file had them (empty
string for an empty cell) and whose ``source_row`` says where each row stands in the file, so that a
message can point a coordinator to the line they need to fix. Nothing is converted here: types are
validation's job.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from toxdb.arrays import blank_categories
from toxdb.i18n import N_, _, ngettext
from toxdb.ingest.damage import TextDamage, inspect_text
from toxdb.ingest.xlsx_budget import estimate_sheet_bytes

DEFAULT_MAX_FILE_MB = 150.0
MAX_XLSX_UNCOMPRESSED_MB = 600.0
MAX_XLSX_RATIO = 200.0   # uncompressed / compressed size of one zip entry; real sheets stay well below
XLSX_MEMORY_BUDGET_MB = 1000.0   # what reading one sheet may materialise (cells and their text), D43

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old binary Office file (.xls/.doc); save it as .xlsx or CSV",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"BM": None,  # too short to be sure; checked with the NUL test below
}
_XPT_MAGIC = b"HEADER RECORD*******LIBRARY HEADER RECORD"
_CODED_TEXT = pa.dictionary(pa.int32(), pa.string())
_ACCEPTED = "CSV (comma, semicolon or tab separated), Excel .xlsx, or SAS transport .xpt"


class ReadError(ValueError):
    """The file could not be read as a table at all; the message says why and what would work."""


class SettingError(ReadError):
    """An environment setting the readers need is not usable; the message names it and the fix."""


def max_file_mb() -> float:
    """The largest file the readers accept (``TOXDB_MAX_FILE_MB``, read when needed so that a bad
    value is a sentence where a file is read, never a crash of every command, D42)."""
    text = os.environ.get("TOXDB_MAX_FILE_MB", "").strip()
    if not text:
        return DEFAULT_MAX_FILE_MB
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise SettingError(_("TOXDB_MAX_FILE_MB is set to {value!r}, which is not a number of megabytes. "
                             "Set it to a number such as 150, or unset it for the default {default:.0f}.").format(
            value=text, default=DEFAULT_MAX_FILE_MB))
    return value


@dataclass
class RawTable:
    file_name: str
    data: pd.DataFrame                 # all cells as text (a CSV's columns come categorical: text coded
                                       # by distinct value), columns named as in the file
    source_row: np.ndarray             # 1-based row in the file (or sheet) for each data row
    reader: str                        # how it was read, for the upload record
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra_cells: dict[int, list[str]] = field(default_factory=dict)   # source_row -> cells past the header
    damaged: dict[int, str] = field(default_factory=dict)             # source_row -> why the line was not read

    @property
    def columns(self) -> list[str]:
        return list(self.data.columns)


def read_table(raw: bytes, file_name: str, sheet: str | None = None) -> RawTable:
    """Read any supported file from its bytes; raise ReadError with a plain reason otherwise (also
    for anything unforeseen: a coordinator gets a sentence, never a traceback, D42)."""
    try:
        return _read_table(raw, file_name, sheet)
    except ReadError:
        raise
    except TextDamage as exc:
        raise ReadError(str(exc)) from None
    except MemoryError:
        raise ReadError(_("{file}: there is not enough memory to read this file; split it into smaller "
                          "files and upload each.").format(file=file_name)) from None
    except OSError as exc:
        raise ReadError(_("{file}: the computer could not read or write a temporary file ({why}); "
                          "free disk space or ask the administrator, then try again.").format(
            file=file_name, why=exc.strerror or exc)) from None
    except Exception as exc:  # noqa: BLE001 - the last guard between a damaged file and a traceback
        raise ReadError(_("{file}: the file could not be read as a table ({why}). Upload {accepted}.").format(
            file=file_name, why=f"{type(exc).__name__}: {str(exc)[:200]}", accepted=_ACCEPTED)) from None


def _read_table(raw: bytes, file_name: str, sheet: str | None) -> RawTable:
    size_mb, limit = len(raw) / 1e6, max_file_mb()
    if size_mb > limit:
        raise ReadError(
            f"{file_name}: the file is {size_mb:,.0f} MB, above the {limit:,.0f} MB limit. "
            "Split it into smaller files (e.g. one per site or per year) and upload each."
        )
    if not raw or (not raw[:65536].strip() and not raw.strip()):
        raise ReadError(f"{file_name}: the file is empty. Export the listing again with its header row and data.")
    head = raw[:64]
    if head.startswith(b"PK\x03\x04"):
        return read_xlsx(raw, file_name, sheet)
    if head.startswith(_XPT_MAGIC[:20]):
        return read_xpt(raw, file_name)
    if file_name.lower().endswith(".xpt"):
        raise ReadError(_("{file}: the name says SAS transport (.xpt), but the file does not start with the "
                          "SAS transport header; it is damaged or not a SAS file. Export it again.").format(
            file=file_name))
    for magic, what in _MAGIC.items():
        if what and head.startswith(magic):
            raise ReadError(f"{file_name}: this is {what}, not a table. Upload {_ACCEPTED}.")
    return read_csv(raw, file_name)


def check_size(path: Path) -> None:
    size_mb, limit = path.stat().st_size / 1e6, max_file_mb()
    if size_mb > limit:
        raise ReadError(
            f"{path.name}: the file is {size_mb:,.0f} MB, above the {limit:,.0f} MB limit. "
            "Split it into smaller files and import each."
        )


def read_path(path: str | os.PathLike, sheet: str | None = None) -> tuple[RawTable, bytes]:
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    check_size(path)
    raw = path.read_bytes()
    return read_table(raw, path.name, sheet), raw


# -- CSV --------------------------------------------------------------------------------------------
def detect_encoding(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if raw.isascii():          # much quicker than decoding a large file, and the usual case
        return "utf-8"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    sample = raw[:200_000]
    # GBK and Latin-1 both decode almost any bytes. Chinese text in GBK comes as pairs of high bytes
    # (both >= 0xA1 for common characters); accented Latin text has single high bytes between letters.
    if _gbk_pair_share(sample) > 0.9:
        if _decodes(sample, "gbk"):
            return "gbk"
        if _decodes(sample, "gb18030"):       # GBK's superset: rarer characters as four bytes
            return "gb18030"
    return "cp1252" if _decodes(sample, "cp1252") else "latin-1"


def _gbk_pair_share(sample: bytes) -> float:
    pairs = singles = 0
    i, n = 0, len(sample)
    while i < n:
        b = sample[i]
        if b < 0x80:
            i += 1
        elif i + 1 < n and b >= 0xA1 and sample[i + 1] >= 0xA1:
            pairs += 1
            i += 2
        else:
            singles += 1
            i += 1
    return pairs / (pairs + singles) if pairs + singles else 0.0


def _decodes(raw: bytes, enc: str) -> bool:
    try:
        raw.decode(enc)
        return True
    except UnicodeDecodeError:
        return False


def detect_delimiter(first_lines: str) -> str:
    lines = [ln for ln in first_lines.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    best, best_score = ",", -1.0
    for delim in (",", ";", "\t", "|"):
        counts = [_count_outside_quotes(ln, delim) for ln in lines]
        if counts[0] == 0:
            continue
        consistent = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = consistent * 10 + min(counts[0], 50) / 50
        if score > best_score:
            best, best_score = delim, score
    return best


def _count_outside_quotes(line: str, delim: str) -> int:
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            n += 1
    return n


def read_csv(raw: bytes, file_name: str) -> RawTable:
    """A delimited text file. Damage (NUL or undecodable lines, a quote that never closes) is found
    first and those lines become rejected rows; the rest is read as usual (D42)."""
    inspected = inspect_text(raw, file_name)
    body = inspected.body
    encoding = detect_encoding(body)
    text_head = body[:65536].decode(encoding, errors="replace")
    if encoding == "utf-8-sig":
        text_head = text_head.lstrip("\ufeff")
    delimiter = detect_delimiter(text_head)
    header_line = next(csv.reader(io.StringIO(text_head), delimiter=delimiter), [])
    if not any(n.strip() for n in header_line):
        raise ReadError(f"{file_name}: the first line is blank; the first line must hold the column names.")
    check_unique_headers(header_line, file_name)
    names = _unique_names(header_line)
    body = body[3:] if encoding == "utf-8-sig" else body
    notes = list(inspected.notes)
    if inspected.damaged:
        data, source_row, too_long = _read_ragged(body.decode(encoding, errors="replace"), delimiter, names)
        notes.append(ngettext("{n} damaged line was set aside as a rejected row",
                              "{n} damaged lines were set aside as rejected rows",
                              len(inspected.damaged)).format(n=len(inspected.damaged)))
    else:
        data, source_row, too_long = _read_fast(body, encoding, delimiter, names, file_name, notes)
    keep = ~_blank_mask(data) | np.isin(source_row, list(inspected.damaged))
    data, source_row = data[keep].reset_index(drop=True), source_row[keep]
    if data.empty:
        raise ReadError(f"{file_name}: the file has a header row but no data rows.")
    label = inspected.encoding or encoding
    out = RawTable(file_name, data, source_row, f"csv {label} {_delim_name(delimiter)}", notes=notes)
    out.extra_cells = {int(r): cells for r, cells in too_long}
    out.damaged = {line: why for line, why in inspected.damaged.items() if line != 1}
    return out


def _read_fast(body: bytes, encoding: str, delimiter: str, names: list[str], file_name: str, notes: list[str]):
    """pyarrow's parallel reader; rows with another number of cells than the header send the whole
    file to the csv module (short rows padded, over-long rows kept for validation to reject)."""
    pa_encoding = {"utf-8-sig": "utf8", "utf-8": "utf8"}.get(encoding, encoding)
    ragged: list[int] = []

    def on_bad_row(row) -> str:
        ragged.append(row.number or -1)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(encoding=pa_encoding, column_names=names, skip_rows=1,
                                           block_size=16 << 20),
            # a line break inside a cell needs a quote around it; without any quote the blocks of the
            # file can be parsed in parallel
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=b'"' in body,
                                             invalid_row_handler=on_bad_row),
            # dictionary-coded text: validation then looks at each distinct value once
            convert_options=pacsv.ConvertOptions(
                column_types={n: _CODED_TEXT for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ReadError(f"{file_name}: cannot be read as a {_delim_name(delimiter)}-separated table: {exc}") from None
    if not ragged:
        data = _coded_frame(table)
        return data, np.arange(2, len(data) + 2), []
    data, source_row, too_long = _read_ragged(body.decode(encoding, errors="replace"), delimiter, names)
    notes.append(f"{len(ragged)} row(s) had a different number of cells than the header; short rows were "
                 "padded with empty cells")
    if too_long:
        notes.append(f"{len(too_long)} row(s) have more filled cells than there are column names")
    return data, source_row, too_long


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)      # pandas' "str": what to_pandas gives


def _coded_frame(table: pa.Table) -> pd.DataFrame:
    """The dictionary-coded columns as pandas categoricals. The same frame as to_pandas(), three times
    quicker on columns of unique ids: the codes and the distinct values are taken as they are, where
    to_pandas goes through Python objects. Concatenating the blocks merges their dictionaries."""
    columns = {}
    for name, col in zip(table.column_names, table.columns):
        arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        categories = pd.Index(pd.array(arr.dictionary, dtype=_STR_DTYPE))
        codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False)       # a missing cell: code -1
        columns[name] = pd.Categorical.from_codes(codes, categories=categories)
    return pd.DataFrame(columns)


def check_unique_headers(header: list[str], file_name: str) -> None:
    """Two columns with the same name (ignoring case and spaces around it): refused, because which
    one holds the value is a guess (D42)."""
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        key = (h or "").strip().casefold()
        if key:
            seen.setdefault(key, []).append(i + 1)
    twice = {header[cols[0] - 1].strip(): cols for cols in seen.values() if len(cols) > 1}
    if twice:
        listed = "; ".join(_("'{name}' (columns {cols})").format(name=name, cols=", ".join(map(str, cols)))
                           for name, cols in twice.items())
        raise ReadError(_("{file}: these column names appear more than once in the header: {listed}. "
                          "Rename or remove the extra columns so that each name is used once, then upload "
                          "again.").format(file=file_name, listed=listed))


def _read_ragged(text: str, delimiter: str, names: list[str]):
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    next(rows, None)
    width = len(names)
    cells, line_numbers, too_long = [], [], []
    for row in rows:
        line = rows.line_num
        if len(row) > width:
            extra = [c for c in row[width:] if c.strip()]
            if extra:
                too_long.append((line, extra))
            row = row[:width]
        elif len(row) < width:
            row = row + [""] * (width - len(row))
        cells.append(row)
        line_numbers.append(line)
    cols = list(zip(*cells)) if cells else [[] for _ in names]
    data = pd.DataFrame({n: pd.array(list(c), dtype=pd.StringDtype("pyarrow")) for n, c in zip(names, cols)})
    return data, np.asarray(line_numbers, dtype=np.int64), too_long


SEPARATOR_WORDS = {"comma": N_("comma"), "semicolon": N_("semicolon"), "tab": N_("tab"), "pipe": N_("pipe")}


def describe_reader(reader: str) -> str:
    """How a file was read ("csv utf-8 comma", stored with the upload) in the reader's language."""
    return " ".join(_(SEPARATOR_WORDS[w]) if w in SEPARATOR_WORDS else w for w in str(reader).split(" "))


def _delim_name(d: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[d]


def _unique_names(header: list[str]) -> list[str]:
    names, seen = [], {}
    for i, h in enumerate(header):
        name = (h or "").strip() or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        names.append(name)
    return names


def _blank_mask(data: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank; each column is only tested on rows still blank so far."""
    candidates = np.arange(len(data))
    for col in data.columns:
        if not len(candidates):
            break
        candidates = candidates[blank_cells(data[col].iloc[candidates])]
    blank = np.zeros(len(data), dtype=bool)
    blank[candidates] = True
    return blank


def blank_cells(values: pd.Series) -> np.ndarray:
    """True where a cell is empty or only spaces (a categorical column is tested per distinct value)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        n_cats = len(values.cat.categories)
        if len(codes) * 4 < n_cats:     # a few rows of a column of unique ids: test the values they use
            used = np.unique(codes[codes >= 0])
            lut = np.ones(n_cats + 1, dtype=bool)
            lut[used] = blank_categories(values, used)
            return lut[codes]
        lut = np.append(blank_categories(values), True)
        return lut[codes]     # code -1 (missing) picks the last entry
    return (values.str.strip() == "").to_numpy(dtype=bool, na_value=True)


# -- Excel ------------------------------------------------------------------------------------------
def _check_zip(raw: bytes, file_name: str) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise ReadError(f"{file_name}: looks like an .xlsx but the file is damaged (not a valid zip).") from None
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_XLSX_RATIO and info.file_size > 20e6:
            raise ReadError(
                f"{file_name}: part {info.filename} would expand {info.file_size / info.compress_size:,.0f}-fold "
                f"to {info.file_size / 1e6:,.0f} MB; that is not a real spreadsheet (a zip bomb?). Not opened."
            )
    if total / 1e6 > MAX_XLSX_UNCOMPRESSED_MB:
        raise ReadError(
            f"{file_name}: the workbook expands to {total / 1e6:,.0f} MB, above the "
            f"{MAX_XLSX_UNCOMPRESSED_MB:,.0f} MB limit. Save the listing alone in a smaller file."
        )
    if "xl/workbook.xml" not in zf.namelist():
        raise ReadError(f"{file_name}: this zip file is not an Excel workbook. Upload {_ACCEPTED}.")
    check_xlsx_budget(zf, file_name)


def check_xlsx_budget(zf: zipfile.ZipFile, file_name: str) -> None:
    """Refuse, before any cell is read, a sheet whose cells and text would take more memory than
    XLSX_MEMORY_BUDGET_MB: one long shared string referenced by many cells is small in the zip and
    huge once read (D43)."""
    for part, estimate in estimate_sheet_bytes(zf).items():
        if estimate / 1e6 > XLSX_MEMORY_BUDGET_MB:
            raise ReadError(_(
                "{file}: sheet part {part} would take about {mb:,.0f} MB of memory once read (its cells "
                "repeat long texts), above the {limit:,.0f} MB a sheet may use. Save the listing alone, "
                "without repeated long texts, or as CSV, and upload that."
            ).format(file=file_name, part=part, mb=estimate / 1e6, limit=XLSX_MEMORY_BUDGET_MB))


def read_xlsx(raw: bytes, file_name: str, sheet: str | None = None) -> RawTable:
    from python_calamine import CalamineWorkbook

    _check_zip(raw, file_name)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as exc:  # calamine raises its own error types
        raise ReadError(f"{file_name}: Excel could not be read: {exc}") from None
    sheets = list(wb.sheet_names)
    if sheet is not None and sheet not in sheets:
        raise ReadError(f"{file_name}: no sheet named {sheet!r}; the sheets are {', '.join(sheets)}")
    candidates = [sheet] if sheet else sheets
    notes: list[str] = []
    for name in candidates:
        ws = wb.get_sheet_by_name(name)
        rows = ws.to_python(skip_empty_area=False)
        if not rows or not any(any(_cell_text(c) for c in r) for r in rows):
            if sheet:
                raise ReadError(f"{file_name}: sheet {name!r} is empty.")
            continue
        merged = getattr(ws, "merged_cell_ranges", None) or []
        table = _table_from_rows(rows, merged, file_name, name, notes)
        if table is not None:
            table.sheets = sheets
            if not sheet and len(sheets) > 1:
                table.notes.insert(0, f"read sheet {name!r} of {len(sheets)} ({', '.join(sheets)}); pick another if needed")
            return table
    raise ReadError(f"{file_name}: no sheet holds a table with a header row and data rows.")


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if hasattr(v, "isoformat"):
        text = v.isoformat()
        return text[:-9] if text.endswith("T00:00:00") else text
    return str(v)


def _column_text(col: tuple) -> list[str]:
    # most cells are already text; format the others (numbers, dates, empty cells) one by one
    return [v if type(v) is str else _cell_text(v) for v in col]


def _table_from_rows(rows, merged, file_name, sheet_name, notes) -> RawTable | None:
    width = max(len(r) for r in rows)
    # header = first row with at least two non-empty cells, most of them text (title rows above are skipped)
    header_idx = None
    for i, r in enumerate(rows[:30]):
        cells = [_cell_text(c).strip() for c in r]
        filled = [c for c in cells if c]
        if len(filled) >= 2 and sum(isinstance(c, str) for c in r if c not in (None, "")) >= 0.6 * len(filled):
            header_idx = i
            break
    if header_idx is None:
        return None
    header = [_cell_text(c).strip() for c in rows[header_idx]] + [""] * (width - len(rows[header_idx]))
    check_unique_headers(header, file_name)
    data_start = header_idx + 1
    # merged header cells: a parent label spanning several columns with sub-labels in the next row
    spans = [m for m in merged if _merge_row(m) == header_idx and _merge_width(m) > 1]
    if spans and data_start < len(rows):
        sub = [_cell_text(c).strip() for c in rows[data_start]] + [""] * width
        for m in spans:
            (r0, c0), (_, c1) = m
            parent = header[c0]
            for c in range(c0, c1 + 1):
                header[c] = f"{parent} {sub[c]}".strip() if sub[c] else parent
        for c in range(width):
            if not header[c] and sub[c]:
                header[c] = sub[c]
        data_start += 1
        notes.append(f"sheet {sheet_name!r}: merged header cells were combined with the row below them")
    if header_idx:
        notes.append(f"sheet {sheet_name!r}: {header_idx} row(s) above the header were skipped")
    names = _unique_names(header)
    body = rows[data_start:]
    if not body:
        raise ReadError(f"{file_name}: sheet {sheet_name!r} has a header row but no data rows.")
    if any(len(r) != width for r in body):
        body = [list(r) + [None] * (width - len(r)) for r in body]
    data = pd.DataFrame({
        n: pd.array(pa.array(_column_text(col), type=pa.string()), dtype=pd.StringDtype("pyarrow"))
        for n, col in zip(names, zip(*body))
    })
    keep = ~_blank_mask(data)
    source_row = np.arange(data_start + 1, data_start + 1 + len(data))[keep]
    data = data[keep].reset_index(drop=True)
    if data.empty:
        raise ReadError(f"{file_name}: sheet {sheet_name!r} has a header row but no data rows.")
    # drop columns that have neither a name nor any value (Excel's used range often runs wide)
    empty_cols = [c for c in data.columns if c.startswith("column ") and (data[c] == "").all()]
    data = data.drop(columns=empty_cols)
    return RawTable(file_name, data, source_row, f"xlsx sheet {sheet_name!r}", sheet=sheet_name, notes=list(notes))


def _merge_row(m) -> int:
    return m[0][0]


def _merge_width(m) -> int:
    return m[1][1] - m[0][1] + 1


# -- SAS transport ----------------------------------------------------------------------------------
def read_xpt(raw: bytes, file_name: str) -> RawTable:
    import pyreadstat

    with tempfile.NamedTemporaryFile(suffix=".xpt", delete=False) as tmp:
        tmp.write(raw)
        tmp_path = tmp.name
    try:
        frame, meta = pyreadstat.read_xport(tmp_path)
    except Exception as exc:
        raise ReadError(f"{file_name}: SAS transport file could not be read: {exc}") from None
    finally:
        os.unlink(tmp_path)
    if frame.empty:
        raise ReadError(f"{file_name}: the SAS dataset has no rows.")
    data = pd.DataFrame({c: _xpt_text(frame[c]) for c in frame.columns})
    source_row = np.arange(1, len(data) + 1)
    name = getattr(meta, "table_name", None) or Path(file_name).stem
    return RawTable(file_name, data, source_row, f"xpt dataset {name}")


def _xpt_text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col):
        def fmt(v):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return ""
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        values = [fmt(v) for v in col.tolist()]
    else:
        values = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in col.tolist()]
    return pd.Series(values, dtype=pd.StringDtype("pyarrow"))

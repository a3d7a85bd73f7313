"""Readers: every file a coordinator may upload either becomes a table of text or a plain refusal."""
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from toxdb.ingest.readers import ReadError, read_path, read_table


def test_utf8_bom_comma_csv_keeps_text_and_row_numbers():
    raw = "\ufeffsubject_id,term\nP-1,Nausea\nP-2,Diarrhea\n".encode("utf-8")
    t = read_table(raw, "ae.csv")
    assert t.columns == ["subject_id", "term"]          # no BOM glued to the first header
    assert t.data["term"].tolist() == ["Nausea", "Diarrhea"]
    assert t.source_row.tolist() == [2, 3]              # line numbers as a spreadsheet shows them
    assert "utf-8-sig" in t.reader


def test_latin1_semicolon_csv():
    raw = "Patient ID;Description\nP-1;Diarrhée légère\n".encode("latin-1")
    t = read_table(raw, "site.csv")
    assert t.data.loc[0, "Description"] == "Diarrhée légère"
    assert "semicolon" in t.reader


def test_gbk_tab_csv():
    raw = "subject_id\tverbatim\nP-1\t腹泻\nP-2\t恶心呕吐\n".encode("gbk")
    t = read_table(raw, "cn.csv")
    assert t.data["verbatim"].tolist() == ["腹泻", "恶心呕吐"]
    assert "gbk" in t.reader and "tab" in t.reader


def test_zero_stays_text_zero_and_leading_zeros_survive():
    t = read_table(b"Subject,dose\n05,0\n", "x.csv")
    assert t.data.loc[0, "Subject"] == "05" and t.data.loc[0, "dose"] == "0"


def test_blank_lines_are_skipped_but_row_numbers_still_point_into_the_file():
    t = read_table(b"a,b\n1,2\n,\n3,4\n", "x.csv")
    assert t.data["a"].tolist() == ["1", "3"]
    assert t.source_row.tolist() == [2, 4]


def test_short_rows_are_padded_and_long_rows_remembered():
    t = read_table(b"a,b,c\n1,2\n3,4,5,6\n7,8,9\n", "x.csv")
    assert t.data["c"].tolist() == ["", "5", "9"]
    assert t.extra_cells == {3: ["6"]}


@pytest.mark.parametrize("raw, phrase", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"subject_id,term,grade\n", "no data rows"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
    (b"%PDF-1.7\n", "PDF"),
    (b"\x00\x01\x02binary" * 10, "binary"),
])
def test_unreadable_files_are_refused_with_a_reason(raw, phrase):
    with pytest.raises(ReadError) as err:
        read_table(raw, "upload.csv")
    assert "upload.csv" in str(err.value)
    assert phrase in str(err.value)


def test_a_200_mb_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "huge.csv"
    with open(big, "wb") as f:      # sparse: takes no disk and no time to make
        f.truncate(200 * 1000 * 1000)
    with pytest.raises(ReadError) as err:
        read_path(big)
    assert "200 MB" in str(err.value) and "limit" in str(err.value)


def _xlsx(rows, sheet="AE listing", merge=None, extra_sheet=False) -> bytes:
    buf = io.BytesIO()
    import xlsxwriter
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet(sheet)
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if hasattr(v, "year"):
                ws.write_datetime(r, c, v, date_fmt)
            elif v is not None:
                ws.write(r, c, v)
    if merge:
        (r0, c0, r1, c1, text) = merge
        ws.merge_range(r0, c0, r1, c1, text)
    if extra_sheet:
        wb.add_worksheet("Notes").write(0, 0, "free text")
    wb.close()
    return buf.getvalue()


def test_xlsx_reads_numbers_dates_and_formula_looking_text():
    import datetime as dt
    raw = _xlsx([["Patient ID", "Grade", "Start Date", "Verbatim"],
                 ["P-1", 3, dt.datetime(2025, 6, 3), "=1+1"]], extra_sheet=True)
    t = read_table(raw, "ae.xlsx")
    row = t.data.iloc[0]
    assert row["Grade"] == "3"
    assert row["Start Date"] == "2025-06-03"
    assert row["Verbatim"] == "=1+1"         # stays text: never evaluated
    assert t.sheets == ["AE listing", "Notes"] and t.sheet == "AE listing"
    assert t.source_row.tolist() == [2]


def test_xlsx_title_row_above_header_is_skipped():
    raw = _xlsx([["Site 01 AE export"], [], ["subject_id", "term", "grade"], ["P-1", "Nausea", 1]])
    t = read_table(raw, "ae.xlsx")
    assert t.columns == ["subject_id", "term", "grade"]
    assert t.source_row.tolist() == [4]


def test_xlsx_merged_header_cells_are_combined_with_the_row_below():
    rows = [["subject_id", "term", None, None],
            [None, None, "Start", "End"],
            ["P-1", "Nausea", "2025-06-03", "2025-06-05"]]
    raw = _xlsx(rows, merge=(0, 2, 0, 3, "Dates"))
    t = read_table(raw, "merged.xlsx")
    assert t.columns == ["subject_id", "term", "Dates Start", "Dates End"]
    assert t.data.loc[0, "Dates End"] == "2025-06-05"
    assert t.source_row.tolist() == [3]
    assert any("merged" in n for n in t.notes)


def test_xlsx_zip_bomb_is_not_opened():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (120 * 1000 * 1000))
    raw = buf.getvalue()
    assert len(raw) < 1_000_000          # a small upload that would expand to 120 MB
    with pytest.raises(ReadError) as err:
        read_table(raw, "bomb.xlsx")
    assert "zip bomb" in str(err.value)


def test_damaged_xlsx_is_refused():
    with pytest.raises(ReadError, match="damaged"):
        read_table(b"PK\x03\x04" + b"garbage" * 20, "broken.xlsx")


def test_xpt_zero_is_read_as_zero(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "EXDOSE": [0.0, 54.0], "EXSTDTC": ["2025-06-03", "2025-06-04"]})
    path = tmp_path / "ex.xpt"
    pyreadstat.write_xport(frame, str(path), table_name="EX")
    t, _ = read_path(path)
    assert t.data["EXDOSE"].tolist() == ["0", "54"]     # not 5.4e-79
    assert t.reader.startswith("xpt")


def test_real_sdtm_pilot_exdose_zero_when_present():
    from conftest import SHARED
    path = SHARED / "realdata" / "cdiscpilot01_sdtm" / "ex.xpt"
    if not path.exists():
        pytest.skip("shared/realdata is not beside this checkout")
    t, _ = read_path(path)
    doses = pd.to_numeric(t.data["EXDOSE"])
    assert (doses == 0).sum() > 0 and not ((doses > 0) & (doses < 1e-10)).any()
    assert np.isfinite(doses).all()

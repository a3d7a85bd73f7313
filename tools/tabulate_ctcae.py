"""Tabulate the NCI CTCAE v5.0 spreadsheet into toxdb/data/ctcae_v5_terms.csv.

One-off developer script: the NCI file exists only on dev machines, so toxdb never reads it.
Only facts are kept (MedDRA code, SOC, term, which grades exist); grade descriptions are not copied.

    python tools/tabulate_ctcae.py [path/to/CTCAE_v5.0_2017-11-27.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "reference" / "ctcae_v5" / "CTCAE_v5.0_2017-11-27.csv"
TARGET = ROOT / "toxdb" / "data" / "ctcae_v5_terms.csv"
EXPECTED_TERMS = 837
GRADE_COLUMNS = [f"Grade {g}" for g in range(1, 6)]

# Spot checks from clinical-rules.md section 9: term -> (MedDRA code, grades that exist).
SPEC_CHECKS = {
    "Palmar-plantar erythrodysesthesia syndrome": ("10054524", (1, 2, 3)),
    "Diarrhea": ("10012727", (1, 2, 3, 4, 5)),
    "Nausea": ("10028813", (1, 2, 3)),
    "Vomiting": ("10047700", (1, 2, 3, 4, 5)),
    "Fatigue": ("10016256", (1, 2, 3)),
    "Mucositis oral": ("10028130", (1, 2, 3, 4, 5)),
    "Anorexia": ("10002646", (1, 2, 3, 4, 5)),
    "Abdominal pain": ("10000081", (1, 2, 3)),
    "Dermatitis radiation": ("10061103", (1, 2, 3, 4, 5)),
    "Gastritis": ("10017853", (1, 2, 3, 4, 5)),
    "Duodenal ulcer": ("10013836", (1, 2, 3, 4, 5)),
    "Upper gastrointestinal hemorrhage": ("10055356", (1, 2, 3, 4, 5)),
    "Biliary tract infection": ("10061695", (2, 3, 4, 5)),
    "Hepatic failure": ("10019663", (3, 4, 5)),
    "Febrile neutropenia": ("10016288", (3, 4, 5)),
    "Neutrophil count decreased": ("10029366", (1, 2, 3, 4)),
    "Platelet count decreased": ("10035528", (1, 2, 3, 4)),
    "Anemia": ("10002272", (1, 2, 3, 4, 5)),
    "White blood cell decreased": ("10049182", (1, 2, 3, 4)),
    "Lymphocyte count decreased": ("10025256", (1, 2, 3, 4)),
    "Alanine aminotransferase increased": ("10001551", (1, 2, 3, 4)),
    "Aspartate aminotransferase increased": ("10003481", (1, 2, 3, 4)),
    "Blood bilirubin increased": ("10005364", (1, 2, 3, 4)),
    "Alkaline phosphatase increased": ("10001675", (1, 2, 3, 4)),
    "Creatinine increased": ("10011368", (1, 2, 3, 4)),
    "Hypoalbuminemia": ("10020943", (1, 2, 3, 4, 5)),
    "Death NOS": ("10011914", (5,)),
}


def grades_text(grades: tuple[int, ...]) -> str:
    """'1-5' for a run without gaps, '1,3' otherwise."""
    if len(grades) > 1 and grades == tuple(range(grades[0], grades[-1] + 1)):
        return f"{grades[0]}-{grades[-1]}"
    return ",".join(str(g) for g in grades)


def tabulate(source: Path) -> pd.DataFrame:
    raw = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rows = []
    for rec in raw.itertuples(index=False):
        cells = dict(zip(raw.columns, rec))
        exists = tuple(
            g for g, col in enumerate(GRADE_COLUMNS, start=1) if cells[col].strip() not in ("", "-")
        )
        if not exists:
            raise ValueError(f"no grade exists for {cells['CTCAE Term']!r}")
        rows.append(
            {
                "meddra_code": cells["MedDRA Code"].strip(),
                "soc": " ".join(cells["MedDRA SOC"].split()),
                "term": " ".join(cells["CTCAE Term"].split()),
                "grade_min": min(exists),
                "grade_max": max(exists),
                "grades": grades_text(exists),
            }
        )
    table = pd.DataFrame(rows)
    return table


def check(table: pd.DataFrame) -> None:
    problems = []
    if len(table) != EXPECTED_TERMS:
        problems.append(f"expected {EXPECTED_TERMS} terms, found {len(table)}")
    if table["term"].duplicated().any():
        problems.append(f"duplicate terms: {table.loc[table['term'].duplicated(), 'term'].tolist()}")
    if table["meddra_code"].duplicated().any():
        problems.append("duplicate MedDRA codes")
    if not table["meddra_code"].str.fullmatch(r"\d{8}").all():
        problems.append("a MedDRA code is not 8 digits")
    by_term = table.set_index("term")
    for term, (code, grades) in SPEC_CHECKS.items():
        if term not in by_term.index:
            problems.append(f"missing {term}")
            continue
        row = by_term.loc[term]
        found = tuple(int(g) for g in _expand(row["grades"]))
        if row["meddra_code"] != code or found != grades:
            problems.append(f"{term}: code {row['meddra_code']} grades {found}, spec says {code} {grades}")
    if problems:
        raise SystemExit("CTCAE tabulation failed checks:\n  " + "\n  ".join(problems))


def _expand(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(g) for g in text.split(",")]


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    table = tabulate(source)
    check(table)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TARGET, index=False, lineterminator="\n")
    print(f"wrote {len(table)} terms to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

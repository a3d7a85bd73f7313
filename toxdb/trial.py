"""The trial definition file: load, validate, and hand out the rules as typed objects.

Every threshold the dashboard applies lives in ``trial.toml``. A value that does not validate stops
loading with a message naming the key and what would be accepted. Every key is read by code, or is
listed in ``INFORMATIONAL`` with what it is for (tests/test_trial_file.py fails otherwise: D31).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from toxdb.vocab import ATTRIBUTION_ORDER

Attribution = Literal[ATTRIBUTION_ORDER]  # the words of toxdb.vocab, strongest last
DEFAULT_TRIAL_FILE = Path(__file__).resolve().parent.parent / "trial.toml"

# Keys no rule reads: what they are for. Every other key must be read by toxdb/ or app/ (D31).
INFORMATIONAL = {
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialInfo(_Section):
    id: str
    title: str
    title_zh: str = ""              # the title in Chinese (the sidebar and reports in Chinese); empty: the title
    planned_n: int = Field(gt=0)
    start_date: dt.date
    sponsor: str = ""
    screening_window_days: int = Field(ge=0)
    future_tolerance_days: int = Field(ge=0, default=0)
    language: str = "en"
    accrual_months: int = Field(gt=0, default=24)

    @field_validator("language")
    @classmethod
    def _known_language(cls, code):
        from toxdb.i18n import LANGUAGES

        if code not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return code


class Phases(_Section):
    post_treatment_window_days: int = Field(ge=0)
    concurrent_cycles: int = Field(ge=0)
    maintenance_cycles: int = Field(ge=0)
    cycle_length_days: int = Field(gt=0)


class Eligibility(_Section):
    age_min_exclusive: float
    age_max_exclusive: float
    child_pugh_allowed: list[str]
    ecog_max: int = Field(ge=0, le=5)
    max_days_surgery_to_treatment: int = Field(gt=0)


class Formulas(_Section):
    bsa: Literal["mosteller", "dubois"]
    child_pugh_albumin_cutoffs_g_l: tuple[float, float]
    child_pugh_bilirubin_cutoffs_umol_l: tuple[float, float]
    child_pugh_inr_cutoffs: tuple[float, float]


class ToxicityStep(_Section):
    action: Literal["continue", "interrupt", "stop"]
    percent: int | None = Field(default=None, ge=0, le=100)
    alternative: str | None = None
    alternative_percent: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _percent_needed(self):
        if self.action in ("continue", "interrupt") and self.percent is None:
            raise ValueError(f"action '{self.action}' needs a percent (0-100)")
        return self


class CapecitabineRules(_Section):
    hfs_terms: list[str]
    hfs_interrupt_grades: list[int]
    anc_interrupt_below: float = Field(gt=0)
    platelets_interrupt_below: float = Field(gt=0)
    bilirubin_interrupt_above_uln: float = Field(gt=0)
    transaminase_interrupt_above_uln: float = Field(gt=0)
    crcl_no_change_min: float = Field(gt=0)
    crcl_reduce_min: float = Field(gt=0)
    crcl_reduced_percent: int = Field(gt=0, le=100)
    low_risk_terms: list[str]
    renal_severe_note: str = (
        "capecitabine not advised (older label: contraindicated; the 2022 US label relaxed this)"
    )


class Capecitabine(_Section):
    tablet_mg: list[int]
    intakes_per_day: int = Field(gt=0)
    concurrent_mg_m2_day: float = Field(gt=0)
    maintenance_mg_m2_day: float = Field(gt=0)
    toxicity_table: dict[Literal["grade1", "grade2", "grade3", "grade4"], list[ToxicityStep]]
    rules: CapecitabineRules

    @field_validator("toxicity_table")
    @classmethod
    def _all_grades(cls, table):
        missing = {"grade1", "grade2", "grade3", "grade4"} - set(table)
        if missing:
            raise ValueError(f"toxicity_table needs rows {sorted(missing)}")
        for key, steps in table.items():
            if not steps:
                raise ValueError(f"toxicity_table.{key} is empty; give at least the 1st appearance")
        return table


class S1(_Section):
    capsule_mg: list[int]
    intakes_per_day: int = Field(gt=0)
    bsa_bands: list[tuple[float, int]]
    levels_mg: list[int]
    crcl_standard_min: float
    crcl_one_level_min: float
    crcl_two_levels_min: float
    # what a non-haematological grade 2 / grade 3 event does (toxdb.dosing.s1, D15)
    nonhaem_grade2: Literal["continue", "interrupt", "interrupt_reduce", "stop"] = "interrupt"
    nonhaem_grade3: Literal["continue", "interrupt", "interrupt_reduce", "stop"] = "interrupt_reduce"
    stop_after_grade3_count: int = Field(gt=0)
    stop_on_grade4: bool
    haem_interrupt_grade_min: int = Field(ge=1, le=5, default=3)
    low_risk_terms: list[str] = []

    @field_validator("bsa_bands")
    @classmethod
    def _bands_sorted(cls, bands):
        lows = [b[0] for b in bands]
        if lows != sorted(lows) or not bands or lows[0] != 0:
            raise ValueError("bsa_bands must start at 0 and rise, e.g. [[0, 40], [1.25, 50], [1.5, 60]]")
        return bands


class Holds(_Section):
    chemo_hold_nonhaem_grade_min: int = Field(ge=1, le=5)
    chemo_hold_hfs_grade_min: int = Field(ge=1, le=5)
    rt_hold_grade_min: int = Field(ge=1, le=5)
    rt_resume_grade_max: int = Field(ge=0, le=5)
    rt_hold_socs: list[str]
    rt_hold_term_groups: dict[str, list[str]]
    rt_hold_anc_below: float = Field(gt=0, default=1.0)
    rt_hold_platelets_below: float = Field(gt=0, default=50.0)
    rt_hold_transaminase_above_uln: float = Field(gt=0, default=5.0)
    rt_hold_bilirubin_above_uln: float = Field(gt=0, default=3.0)
    rt_hold_alp_ggt_above_uln: float = Field(gt=0, default=5.0)
    rt_interruption_flag_days: int = Field(ge=0)
    haematological_terms: list[str]
    count_event_grade_min: dict[str, int] = {"Neutrophil count decreased": 3, "Platelet count decreased": 2}


class Monitoring(_Section):
    n_max: int = Field(gt=0, le=2000)
    p0: float = Field(gt=0, lt=1)
    p1: float = Field(gt=0, lt=1)
    cp0: float = Field(gt=0, lt=1)
    delta: float = Field(ge=0, le=0.5)
    first_look: int = Field(ge=1)
    grade_min: int = Field(ge=1, le=5)
    attributions: list[Attribution]
    exclude_terms: list[str]
    bayes_a: float = Field(gt=0)
    bayes_b: float = Field(gt=0)
    bayes_threshold: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _p1_above_p0(self):
        if self.p1 <= self.p0:
            raise ValueError(f"p1 ({self.p1}) must be above p0 ({self.p0})")
        if self.first_look > self.n_max:
            raise ValueError("first_look must not exceed n_max")
        return self


class Ctcae(_Section):
    """The CTCAE version of record: lab grades, tables and monitoring use it; the other version is
    computed beside it (a sensitivity view), never instead of it."""
    version: Literal["5.0", "6.0"] = "5.0"

    @field_validator("version", mode="before")
    @classmethod
    def _as_text(cls, value):
        # a bare TOML number (version = 5.0 or 6) means the same version
        return f"{float(value):.1f}" if isinstance(value, (int, float)) else value


class Role(_Section):
    """One role of ``[roles.NAME]``: the actions it may take (names from toxdb.access.ACTIONS) and
    whether it is limited to the person's own site(s)."""
    actions: list[str]
    own_sites_only: bool = False

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, actions):
        from toxdb.access import ACTIONS

        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown action(s) {', '.join(unknown)}; one of {', '.join(ACTIONS)}")
        return actions


class Report(_Section):
    """The committee report ([report]): the hepatic plot's Hy's-law limits and listing length."""
    hy_law_transaminase_x: float = Field(gt=0, default=3.0)
    hy_law_bilirubin_x: float = Field(gt=0, default=2.0)
    listing_max_rows: int = Field(gt=0, default=500)


class Timeliness(_Section):
    """When a site's data count as late (Site timeliness page, D72)."""
    ae_entry_max_days: int = Field(ge=0, default=14)
    upload_amber_days: int = Field(ge=0, default=14)
    upload_red_days: int = Field(ge=0, default=28)
    late_share_red: float = Field(ge=0, le=1, default=0.10)
    query_open_max_days: int = Field(ge=0, default=14)

    @model_validator(mode="after")
    def _amber_before_red(self):
        if self.upload_red_days < self.upload_amber_days:
            raise ValueError("upload_red_days must be at least upload_amber_days")
        return self


class Roles(_Section):
    """``[roles]``: ``local_role`` plus one table per role (``[roles.coordinator]`` ...)."""
    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Role] = Field(init=False)
    local_role: str = "data_manager"

    @model_validator(mode="after")
    def _local_role_defined(self):
        if self.local_role not in (self.model_extra or {}):
            raise ValueError(f"local_role {self.local_role!r} is not a role defined as [roles.NAME]")
        return self

    def named(self) -> dict[str, Role]:
        """Every role by name, in the file's order."""
        return dict(self.model_extra or {})


class LabQueries(_Section):
    window_days: int = Field(ge=0, le=60)


ALERT_RULES = ("grade5", "sae", "grade4_nonhaem", "boundary")   # the rules of [alerts] (D90)
SITE_ROLE = "coordinator"   # the role whose addresses are per site and who only hear of their site (D93)


class Alerts(_Section):
    """``[alerts]``: which events alert whom by e-mail (toxdb.alerts; D90, D93)."""
    dashboard_url: str
    grade5: list[str]
    sae: list[str]
    grade4_nonhaem: list[str]
    boundary: list[str]
    corrections: bool = True
    digest_above: int = Field(ge=0, default=20)
    retry_minutes: list[int] = Field(min_length=1)
    recipients: dict[str, list[str]]
    site_recipients: dict[str, list[str]] = {}

    @field_validator("dashboard_url")
    @classmethod
    def _http(cls, url):
        if not url.startswith(("http://", "https://")):
            raise ValueError("dashboard_url must start with http:// or https://")
        return url.rstrip("/")

    @field_validator("recipients", "site_recipients")
    @classmethod
    def _addresses(cls, table):
        for who, addresses in table.items():
            bad = [a for a in addresses if "@" not in a or any(c.isspace() for c in a)]
            if bad:
                raise ValueError(f"{who}: not e-mail addresses: {', '.join(map(repr, bad))}")
        return table

    @field_validator("retry_minutes")
    @classmethod
    def _positive(cls, minutes):
        if any(m <= 0 for m in minutes):
            raise ValueError("retry_minutes must all be above 0")
        return minutes

    @model_validator(mode="after")
    def _known_roles(self):
        known = set(self.recipients) | {SITE_ROLE}
        for rule, roles in self.model_dump(include=set(ALERT_RULES)).items():
            unknown = [r for r in roles if r not in known]
            if unknown:
                raise ValueError(f"{rule} names role(s) with no addresses in [alerts.recipients]: "
                                 f"{', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return self



class Trial(_Section):
    trial: TrialInfo
    phases: Phases
    eligibility: Eligibility
    formulas: Formulas
    capecitabine: Capecitabine
    s1: S1
    holds: Holds
    lab_queries: LabQueries
    monitoring: Monitoring
    roles: Roles
    ctcae: Ctcae = Ctcae()
    report: Report = Report()
    timeliness: Timeliness = Timeliness()
    alerts: Alerts


class TrialFileError(ValueError):
    """The trial file could not be read or did not validate; the message names every bad key."""


def trial_path(path: str | os.PathLike | None = None) -> Path:
    """The trial file in use: ``path``, else TOXDB_TRIAL, else the project's trial.toml."""
    return Path(path or os.environ.get("TOXDB_TRIAL") or DEFAULT_TRIAL_FILE)


def read_trial(path: str | os.PathLike | None = None) -> Trial:
    """Read and validate a trial file (default: TOXDB_TRIAL or ./trial.toml)."""
    path = trial_path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TrialFileError(f"trial file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TrialFileError(f"trial file {path} is not valid TOML: {exc}") from exc
    try:
        return Trial.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
        raise TrialFileError(f"trial file {path} has {len(problems)} problem(s):\n" + "\n".join(problems)) from None


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> Trial:
    return read_trial(path)


def _stat(p: Path) -> tuple[int, int]:
    if not p.exists():
        return 0, -1
    st = p.stat()
    return st.st_mtime_ns, st.st_size


def load_trial(path: str | os.PathLike | None = None) -> Trial:
    """Cached read keyed on the file's path, modification time and size."""
    p = trial_path(path).resolve()
    return _cached(str(p), *_stat(p))


@lru_cache(maxsize=8)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if size >= 0 else ""


def trial_fingerprint(path: str | os.PathLike | None = None) -> str:
    """sha256 of the trial file's bytes (read again only when its time or size changes): cached
    results that apply the file's rules key on it, so an edited file is never answered from a cache
    filled under the old rules (D31)."""
    p = trial_path(path).resolve()
    return _digest(str(p), *_stat(p))

-- toxdb schema, version 1. The only DDL of the project; later versions are migrations in store.py.
-- Clinical tables are versioned: a row is current while valid_to IS NULL; a correction closes the old
-- version (valid_to = the correcting upload's time) and adds a new one. Nothing is ever deleted.

CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS upload_seq START 1;

CREATE TABLE IF NOT EXISTS uploads (
    upload_id     INTEGER PRIMARY KEY,
    file_name     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('patients', 'treatment', 'ae', 'labs')),
    site          TEXT,
    sha256        TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    raw           BLOB,
    uploaded_by   TEXT NOT NULL,
    uploaded_at   TIMESTAMP NOT NULL,
    reader        TEXT,            -- e.g. "csv utf-8 ','", "xlsx sheet 'AE listing'", "xpt"
    day_first     BOOLEAN,
    mapping       JSON,            -- {source column: canonical column}
    n_rows        INTEGER NOT NULL,
    n_accepted    INTEGER NOT NULL,
    n_duplicates  INTEGER NOT NULL,
    n_corrections INTEGER NOT NULL,
    n_rejected    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS patients (
    record_key           TEXT NOT NULL,
    version              INTEGER NOT NULL,
    upload_id            INTEGER NOT NULL,
    source_row           INTEGER,
    row_hash             UBIGINT NOT NULL,
    valid_from           TIMESTAMP NOT NULL,
    valid_to             TIMESTAMP,
    subject_id           TEXT NOT NULL,
    site                 TEXT,
    enrolled_on          DATE NOT NULL,
    sex                  TEXT CHECK (sex IN ('M', 'F')),
    birth_date           DATE,
    age                  DOUBLE CHECK (age >= 0 AND age < 130),
    height_cm            DOUBLE CHECK (height_cm > 0),
    weight_kg            DOUBLE CHECK (weight_kg > 0),
    serum_creatinine     DOUBLE CHECK (serum_creatinine > 0),
    serum_creatinine_unit TEXT,
    agent                TEXT,
    surgery_date         DATE,
    off_treatment_on     DATE,
    off_treatment_reason TEXT,
    recurrence_on        DATE,
    death_on             DATE,
    last_contact_on      DATE,
    ecog                 INTEGER CHECK (ecog BETWEEN 0 AND 5),
    ascites              TEXT,
    encephalopathy       TEXT
);

CREATE TABLE IF NOT EXISTS treatment_records (
    record_key  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    upload_id   INTEGER NOT NULL,
    source_row  INTEGER,
    row_hash    UBIGINT NOT NULL,
    valid_from  TIMESTAMP NOT NULL,
    valid_to    TIMESTAMP,
    subject_id  TEXT NOT NULL,
    treatment   TEXT NOT NULL CHECK (treatment IN ('RT', 'capecitabine', 'S-1')),
    phase       TEXT CHECK (phase IN ('concurrent', 'maintenance')),
    cycle       INTEGER,
    start_date  DATE NOT NULL,
    end_date    DATE,
    dose        DOUBLE,
    dose_unit   TEXT,
    fractions   INTEGER
);

CREATE TABLE IF NOT EXISTS adverse_events (
    record_key       TEXT NOT NULL,
    version          INTEGER NOT NULL,
    upload_id        INTEGER NOT NULL,
    source_row       INTEGER,
    row_hash         UBIGINT NOT NULL,
    valid_from       TIMESTAMP NOT NULL,
    valid_to         TIMESTAMP,
    subject_id       TEXT NOT NULL,
    ae_ref           TEXT,
    term             TEXT NOT NULL,
    soc              TEXT,
    meddra_code      TEXT,
    verbatim         TEXT,
    grade            INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 5),
    grade_source     TEXT,          -- 'grade' or 'severity' (AESEV fallback, flagged)
    onset_date       DATE NOT NULL,
    onset_precision  TEXT,          -- 'day', 'month', 'year': imputed when not 'day'
    end_date         DATE,
    serious          BOOLEAN,
    attribution      TEXT,
    attributed_to    TEXT,
    action_taken     TEXT,
    outcome          TEXT,
    flags            TEXT           -- plain-words notes kept with the row (imputations, fallbacks)
);

CREATE TABLE IF NOT EXISTS lab_results (
    record_key   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    upload_id    INTEGER NOT NULL,
    source_row   INTEGER,
    row_hash     UBIGINT NOT NULL,
    valid_from   TIMESTAMP NOT NULL,
    valid_to     TIMESTAMP,
    subject_id   TEXT NOT NULL,
    collected_on DATE NOT NULL,
    test         TEXT NOT NULL,
    value        DOUBLE NOT NULL,
    unit         TEXT,
    lln          DOUBLE,
    uln          DOUBLE
);

CREATE TABLE IF NOT EXISTS rejected_rows (
    upload_id  INTEGER NOT NULL,
    source_row INTEGER,
    status     TEXT NOT NULL CHECK (status IN ('rejected', 'duplicate')),
    reasons    TEXT NOT NULL,
    raw        JSON NOT NULL
);

CREATE TABLE IF NOT EXISTS saved_mappings (
    site       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    signature  TEXT NOT NULL,      -- normalised source headers, sorted and joined
    mapping    JSON NOT NULL,
    saved_by   TEXT NOT NULL,
    saved_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (site, kind, signature)
);

CREATE TABLE IF NOT EXISTS data_cuts (
    name      TEXT PRIMARY KEY,
    cut_date  DATE NOT NULL,
    frozen_at TIMESTAMP NOT NULL,  -- data as stored at this moment
    made_by   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS acknowledgements (
    subject_id  TEXT NOT NULL,
    agent       TEXT NOT NULL,
    rule        TEXT NOT NULL,
    advice_hash TEXT NOT NULL,     -- the advice as shown; new data changes it and the hint reopens
    comment     TEXT,
    made_by     TEXT NOT NULL,
    made_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail JSON
);

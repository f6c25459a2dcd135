-- Patient index (EMPI), electronic health card use log, merges, counters
-- and per-organisation secrets. Search keys are kept in byte order (BINARY
--postgres: -- on SQLite, COLLATE "C" here) so prefix searches are index ranges.
--sqlite: -- here, COLLATE "C" on PostgreSQL) so prefix searches are index ranges.

CREATE TABLE patient (
    org_id             UUID NOT NULL REFERENCES org (org_id),
    id                 UUID NOT NULL,
    hospital_no        TEXT NOT NULL,
    card_id            TEXT NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    name_pinyin        TEXT COLLATE "C" NOT NULL,
    name_initials      TEXT COLLATE "C" NOT NULL,
    sex                TEXT NOT NULL,
    birth_date         TEXT NOT NULL,
    ethnicity          TEXT,
    id_kind            TEXT,
    id_number          TEXT,
    id_rev             TEXT COLLATE "C",
    nationality        TEXT,
    phone              TEXT COLLATE "C",
    address            TEXT,
    region_code        TEXT,
    insurance          TEXT NOT NULL,
    emergency_name     TEXT,
    emergency_relation TEXT,
    emergency_phone    TEXT,
    guardian_name      TEXT,
    guardian_relation  TEXT,
    guardian_id_number TEXT,
    guardian_phone     TEXT,
    channel            TEXT NOT NULL,
    merged_into        UUID,
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX patient_hospital_no_uq ON patient (org_id, hospital_no);
CREATE UNIQUE INDEX patient_card_uq ON patient (org_id, card_id);
CREATE UNIQUE INDEX patient_id_number_uq ON patient (org_id, id_kind, id_number)
    WHERE id_number IS NOT NULL AND merged_into IS NULL;
CREATE INDEX patient_id_rev_ix ON patient (org_id, id_rev);
CREATE INDEX patient_initials_ix ON patient (org_id, name_initials);
CREATE INDEX patient_pinyin_ix ON patient (org_id, name_pinyin, birth_date);
CREATE INDEX patient_name_ix ON patient (org_id, name, birth_date);
CREATE INDEX patient_phone_ix ON patient (org_id, phone);

CREATE TABLE card_use (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    at         BIGINT NOT NULL,
    patient_id UUID NOT NULL,
    code_kind  TEXT NOT NULL,
    step       TEXT NOT NULL,
    station    TEXT NOT NULL,
    staff_id   UUID,
    on_behalf  BOOLEAN NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX card_use_patient_ix ON card_use (org_id, patient_id, at);

CREATE TABLE patient_merge (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    survivor_id UUID NOT NULL,
    merged_id   UUID NOT NULL,
    reason      TEXT NOT NULL,
    merged_by   TEXT NOT NULL,
    merged_at   BIGINT NOT NULL,
    undone_by   TEXT,
    undone_at   BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX patient_merge_merged_ix ON patient_merge (org_id, merged_id);

-- The rows a merge re-pointed, so undo moves back exactly those.
CREATE TABLE patient_merge_move (
    org_id   UUID NOT NULL REFERENCES org (org_id),
    merge_id UUID NOT NULL,
    tbl      TEXT NOT NULL,
    row_id   UUID NOT NULL,
    PRIMARY KEY (org_id, merge_id, tbl, row_id)
);

CREATE TABLE counter (
    org_id UUID NOT NULL REFERENCES org (org_id),
    name   TEXT NOT NULL,
    value  BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE org_secret (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    purpose    TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, purpose)
);

-- Lab results: specimens drawn for the lab orders of a visit (one barcode per
-- tube), one test per lab order with its verification, result rows that are
-- never rewritten (a correction is a new version), and critical-value alerts
-- that stay until the ordering doctor acknowledges them.

CREATE TABLE specimen (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    id            UUID NOT NULL,
    barcode       TEXT NOT NULL,
    patient_id    UUID NOT NULL,
    visit_id      UUID NOT NULL,
    kind          TEXT NOT NULL,
    tube          TEXT NOT NULL,
    status        TEXT NOT NULL,
    reject_reason TEXT NOT NULL,
    collected_by  TEXT NOT NULL,
    collected_at  BIGINT NOT NULL,
    received_by   TEXT,
    received_at   BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX specimen_barcode_uq ON specimen (org_id, barcode);
CREATE INDEX specimen_status_ix ON specimen (org_id, status, collected_at);

CREATE TABLE lab_test (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    order_id     UUID NOT NULL,
    specimen_id  UUID NOT NULL,
    visit_id     UUID NOT NULL,
    patient_id   UUID NOT NULL,
    doctor_id    UUID NOT NULL,
    panel_code   TEXT NOT NULL,
    panel_name   TEXT NOT NULL,
    status       TEXT NOT NULL,
    verified_by  TEXT,
    verified_at  BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, order_id)
);
CREATE INDEX lab_test_specimen_ix ON lab_test (org_id, specimen_id);
CREATE INDEX lab_test_patient_ix ON lab_test (org_id, patient_id, verified_at);
CREATE INDEX lab_test_status_ix ON lab_test (org_id, status, updated_at);

CREATE TABLE lab_result (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    order_id    UUID NOT NULL,
    specimen_id UUID NOT NULL,
    patient_id  UUID NOT NULL,
    item_code   TEXT NOT NULL,
    item_name   TEXT NOT NULL,
    loinc       TEXT NOT NULL,
    value       TEXT NOT NULL,
    milli       BIGINT,
    unit        TEXT NOT NULL,
    flag        TEXT NOT NULL,
    range_text  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    current     BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    entered_by  TEXT NOT NULL,
    entered_at  BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX lab_result_version_uq ON lab_result (org_id, order_id, item_code, version);
CREATE INDEX lab_result_patient_ix ON lab_result (org_id, patient_id, item_code, entered_at);

CREATE TABLE lab_alert (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    result_id  UUID NOT NULL,
    order_id   UUID NOT NULL,
    patient_id UUID NOT NULL,
    doctor_id  UUID NOT NULL,
    item_name  TEXT NOT NULL,
    value      TEXT NOT NULL,
    unit       TEXT NOT NULL,
    flag       TEXT NOT NULL,
    raised_at  BIGINT NOT NULL,
    acked_by   TEXT,
    acked_at   BIGINT,
    ack_note   TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX lab_alert_doctor_ix ON lab_alert (org_id, doctor_id, acked_at);

-- The collection worklist reads lab orders by kind and status.
CREATE INDEX visit_order_kind_ix ON visit_order (org_id, kind, status, created_at);

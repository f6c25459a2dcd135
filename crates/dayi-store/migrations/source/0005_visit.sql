-- The outpatient visit and billing: catalogue items (dated rows, from the
-- files under catalog/ and the administrator's edits), visits with their
-- diagnoses, orders, certificates and record templates; payments, refunds
-- and cashiers' closings; and the ledger of the built-in local payment
-- provider, which stands apart from Dayi's own rows as a real provider would.

CREATE TABLE catalog_item (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    kind           TEXT NOT NULL,
    code           TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    name           TEXT NOT NULL,
    initials       TEXT NOT NULL,
    insurance_code TEXT NOT NULL,
    insurance_name TEXT NOT NULL,
    category       TEXT NOT NULL,
    unit           TEXT NOT NULL,
    price_fen      BIGINT NOT NULL,
    class          TEXT,
    drug           TEXT,
    active         BOOLEAN NOT NULL,
    source         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, kind, code, effective_from)
);

CREATE TABLE visit (
    org_id          UUID NOT NULL REFERENCES org (org_id),
    id              UUID NOT NULL,
    patient_id      UUID NOT NULL,
    booking_id      UUID,
    dept_id         UUID NOT NULL,
    doctor_id       UUID NOT NULL,
    doctor_name     TEXT NOT NULL,
    day             TEXT NOT NULL,
    status          TEXT NOT NULL,
    chief_complaint TEXT NOT NULL,
    present_illness TEXT NOT NULL,
    history         TEXT NOT NULL,
    allergies       TEXT NOT NULL,
    vitals          TEXT NOT NULL,
    examination     TEXT NOT NULL,
    advice          TEXT NOT NULL,
    opened_at       BIGINT NOT NULL,
    finished_at     BIGINT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX visit_booking_uq ON visit (org_id, booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX visit_patient_ix ON visit (org_id, patient_id, opened_at);
CREATE INDEX visit_doctor_ix ON visit (org_id, doctor_id, day);

CREATE TABLE diagnosis (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    visit_id       UUID NOT NULL,
    seq            BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    insurance_code TEXT NOT NULL,
    is_primary     BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, visit_id, seq)
);

CREATE TABLE visit_order (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    visit_id   UUID NOT NULL,
    patient_id UUID NOT NULL,
    kind       TEXT NOT NULL,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    generic    TEXT NOT NULL,
    spec       TEXT NOT NULL,
    dose       BIGINT,
    dose_unit  TEXT NOT NULL,
    frequency  TEXT NOT NULL,
    days       BIGINT,
    route      TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    unit       TEXT NOT NULL,
    unit_fen   BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    class      TEXT,
    status     TEXT NOT NULL,
    warnings   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    note       TEXT NOT NULL,
    charge_id  UUID NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX visit_order_visit_ix ON visit_order (org_id, visit_id);

CREATE TABLE certificate (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    cert_no    TEXT NOT NULL,
    visit_id   UUID NOT NULL,
    patient_id UUID NOT NULL,
    kind       TEXT NOT NULL,
    days       BIGINT,
    starts     TEXT,
    note       TEXT NOT NULL,
    issued_by  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX certificate_visit_ix ON certificate (org_id, visit_id);

CREATE TABLE visit_template (
    org_id          UUID NOT NULL REFERENCES org (org_id),
    id              UUID NOT NULL,
    dept_id         UUID NOT NULL,
    name            TEXT NOT NULL,
    chief_complaint TEXT NOT NULL,
    present_illness TEXT NOT NULL,
    examination     TEXT NOT NULL,
    advice          TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX visit_template_dept_ix ON visit_template (org_id, dept_id);

ALTER TABLE charge ADD COLUMN visit_id UUID;
ALTER TABLE charge ADD COLUMN order_id UUID;
-- The payment that settled the charge, or an online payment holding it while the patient pays.
ALTER TABLE charge ADD COLUMN payment_id UUID;
ALTER TABLE charge ADD COLUMN refund_id UUID;
CREATE INDEX charge_payment_ix ON charge (org_id, payment_id);

CREATE TABLE payment (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    id             UUID NOT NULL,
    pay_no         TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    patient_id     UUID NOT NULL,
    method         TEXT NOT NULL,
    channel        TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    tendered_fen   BIGINT NOT NULL,
    change_fen     BIGINT NOT NULL,
    status         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    pay_url        TEXT NOT NULL,
    transaction_id TEXT,
    account        TEXT NOT NULL,
    cashier        TEXT NOT NULL,
    closing_id     UUID,
    created_at     BIGINT NOT NULL,
    paid_at        BIGINT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX payment_no_uq ON payment (org_id, pay_no);
CREATE UNIQUE INDEX payment_key_uq ON payment (org_id, idem_key);
CREATE INDEX payment_patient_ix ON payment (org_id, patient_id, created_at);
CREATE INDEX payment_open_ix ON payment (org_id, account, closing_id);

CREATE TABLE refund (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    refund_no   TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    payment_id  UUID NOT NULL,
    patient_id  UUID NOT NULL,
    method      TEXT NOT NULL,
    amount_fen  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    provider_id TEXT,
    reason      TEXT NOT NULL,
    account     TEXT NOT NULL,
    cashier     TEXT NOT NULL,
    closing_id  UUID,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX refund_no_uq ON refund (org_id, refund_no);
CREATE UNIQUE INDEX refund_key_uq ON refund (org_id, idem_key);
CREATE INDEX refund_payment_ix ON refund (org_id, payment_id);
CREATE INDEX refund_open_ix ON refund (org_id, account, closing_id);

CREATE TABLE closing (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    id           UUID NOT NULL,
    account      TEXT NOT NULL,
    closed_by    TEXT NOT NULL,
    payments     BIGINT NOT NULL,
    refunds      BIGINT NOT NULL,
    paid_fen     BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    net_fen      BIGINT NOT NULL,
    lines        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX closing_account_ix ON closing (org_id, account, created_at);

CREATE TABLE local_pay_order (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    out_trade_no   TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    description    TEXT NOT NULL,
    notify_url     TEXT NOT NULL,
    return_url     TEXT NOT NULL,
    state          TEXT NOT NULL,
    transaction_id TEXT,
    paid_fen       BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    notified       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, out_trade_no)
);

CREATE TABLE local_pay_refund (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    out_refund_no TEXT NOT NULL,
    out_trade_no  TEXT NOT NULL,
    amount_fen    BIGINT NOT NULL,
    refund_id     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, out_refund_no)
);

-- Rosters (排班), clinic sessions and their slots (号源), bookings and
-- registrations (挂号), registration-fee charges, no-show blocks, the
-- patient portal's sign-in, notifications and the text-message log.

CREATE TABLE roster_template (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    id            UUID NOT NULL,
    dept_id       UUID NOT NULL,
    weekday       BIGINT NOT NULL,
    half_day      TEXT NOT NULL,
    clinic_type   TEXT NOT NULL,
    doctor_id     UUID,
    doctor_name   TEXT NOT NULL,
    doctor_title  TEXT,
    visiting_from TEXT,
    room          TEXT,
    start_time    TEXT NOT NULL,
    slot_minutes  BIGINT NOT NULL,
    slot_count    BIGINT NOT NULL,
    active        BOOLEAN NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE clinic_session (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    id            UUID NOT NULL,
    template_id   UUID,
    dept_id       UUID NOT NULL,
    day           TEXT NOT NULL,
    half_day      TEXT NOT NULL,
    clinic_type   TEXT NOT NULL,
    doctor_id     UUID,
    doctor_name   TEXT NOT NULL,
    doctor_title  TEXT,
    visiting_from TEXT,
    room          TEXT,
    start_time    TEXT NOT NULL,
    slot_minutes  BIGINT NOT NULL,
    slot_count    BIGINT NOT NULL,
    fee_fen       BIGINT NOT NULL,
    release_at    BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    status        TEXT NOT NULL,
    stop_reason   TEXT,
    stopped_by    TEXT,
    stopped_at    BIGINT,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX clinic_session_template_uq ON clinic_session (org_id, template_id, day)
    WHERE template_id IS NOT NULL;
CREATE INDEX clinic_session_day_ix ON clinic_session (org_id, day, dept_id);

CREATE TABLE slot (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    session_id UUID NOT NULL,
    seq        BIGINT NOT NULL,
    starts_at  BIGINT NOT NULL,
    added      BOOLEAN NOT NULL,
    booking_id UUID,
    PRIMARY KEY (org_id, session_id, seq)
);

CREATE TABLE booking (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    id            UUID NOT NULL,
    reg_no        TEXT NOT NULL,
    session_id    UUID NOT NULL,
    seq           BIGINT NOT NULL,
    slot_start    BIGINT NOT NULL,
    patient_id    UUID NOT NULL,
    dept_id       UUID NOT NULL,
    day           TEXT NOT NULL,
    fee_fen       BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    on_behalf     TEXT NOT NULL,
    booked_by     TEXT NOT NULL,
    status        TEXT NOT NULL,
    cancel_reason TEXT,
    checked_in_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX booking_reg_no_uq ON booking (org_id, reg_no);
-- The database itself refuses a slot sold twice.
CREATE UNIQUE INDEX booking_slot_uq ON booking (org_id, session_id, seq)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX booking_patient_ix ON booking (org_id, patient_id, day);
CREATE INDEX booking_session_ix ON booking (org_id, session_id, status);

CREATE TABLE booking_block (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    patient_id UUID NOT NULL,
    until_day  TEXT NOT NULL,
    no_shows   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, patient_id)
);

CREATE TABLE charge (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    patient_id UUID NOT NULL,
    booking_id UUID,
    item_code  TEXT NOT NULL,
    item_name  TEXT NOT NULL,
    category   TEXT NOT NULL,
    unit_fen   BIGINT NOT NULL,
    quantity   BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    status     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX charge_patient_ix ON charge (org_id, patient_id, created_at);
CREATE INDEX charge_booking_ix ON charge (org_id, booking_id);

CREATE TABLE notification (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    patient_id UUID NOT NULL,
    kind       TEXT NOT NULL,
    booking_id UUID,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX notification_patient_ix ON notification (org_id, patient_id, created_at);

CREATE TABLE message (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    patient_id UUID,
    phone      TEXT NOT NULL,
    template   TEXT NOT NULL,
    body       TEXT NOT NULL,
    gateway    TEXT NOT NULL,
    status     TEXT NOT NULL,
    reference  TEXT,
    error      TEXT,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX message_created_ix ON message (org_id, created_at);

CREATE TABLE portal_otp (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    phone      TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    sent_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    PRIMARY KEY (org_id, phone)
);

CREATE TABLE portal_session (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    token_hash   TEXT NOT NULL,
    patient_id   UUID NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, token_hash)
);

CREATE TABLE portal_family (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    owner_id   UUID NOT NULL,
    member_id  UUID NOT NULL,
    relation   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, owner_id, member_id)
);

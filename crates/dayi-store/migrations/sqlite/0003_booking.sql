-- Rosters (排班), clinic sessions and their slots (号源), bookings and
-- registrations (挂号), registration-fee charges, no-show blocks, the
-- patient portal's sign-in, notifications and the text-message log.

CREATE TABLE roster_template (
    org_id        BLOB NOT NULL REFERENCES org (org_id),
    id            BLOB NOT NULL,
    dept_id       BLOB NOT NULL,
    weekday       INTEGER NOT NULL,
    half_day      TEXT NOT NULL,
    clinic_type   TEXT NOT NULL,
    doctor_id     BLOB,
    doctor_name   TEXT NOT NULL,
    doctor_title  TEXT,
    visiting_from TEXT,
    room          TEXT,
    start_time    TEXT NOT NULL,
    slot_minutes  INTEGER NOT NULL,
    slot_count    INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE clinic_session (
    org_id        BLOB NOT NULL REFERENCES org (org_id),
    id            BLOB NOT NULL,
    template_id   BLOB,
    dept_id       BLOB NOT NULL,
    day           TEXT NOT NULL,
    half_day      TEXT NOT NULL,
    clinic_type   TEXT NOT NULL,
    doctor_id     BLOB,
    doctor_name   TEXT NOT NULL,
    doctor_title  TEXT,
    visiting_from TEXT,
    room          TEXT,
    start_time    TEXT NOT NULL,
    slot_minutes  INTEGER NOT NULL,
    slot_count    INTEGER NOT NULL,
    fee_fen       INTEGER NOT NULL,
    release_at    INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    stop_reason   TEXT,
    stopped_by    TEXT,
    stopped_at    INTEGER,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE UNIQUE INDEX clinic_session_template_uq ON clinic_session (org_id, template_id, day)
    WHERE template_id IS NOT NULL;
CREATE INDEX clinic_session_day_ix ON clinic_session (org_id, day, dept_id);

CREATE TABLE slot (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    session_id BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    added      INTEGER NOT NULL,
    booking_id BLOB,
    PRIMARY KEY (org_id, session_id, seq)
) STRICT;

CREATE TABLE booking (
    org_id        BLOB NOT NULL REFERENCES org (org_id),
    id            BLOB NOT NULL,
    reg_no        TEXT NOT NULL,
    session_id    BLOB NOT NULL,
    seq           INTEGER NOT NULL,
    slot_start    INTEGER NOT NULL,
    patient_id    BLOB NOT NULL,
    dept_id       BLOB NOT NULL,
    day           TEXT NOT NULL,
    fee_fen       INTEGER NOT NULL,
    channel       TEXT NOT NULL,
    on_behalf     TEXT NOT NULL,
    booked_by     TEXT NOT NULL,
    status        TEXT NOT NULL,
    cancel_reason TEXT,
    checked_in_at INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE UNIQUE INDEX booking_reg_no_uq ON booking (org_id, reg_no);
-- The database itself refuses a slot sold twice.
CREATE UNIQUE INDEX booking_slot_uq ON booking (org_id, session_id, seq)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX booking_patient_ix ON booking (org_id, patient_id, day);
CREATE INDEX booking_session_ix ON booking (org_id, session_id, status);

CREATE TABLE booking_block (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    patient_id BLOB NOT NULL,
    until_day  TEXT NOT NULL,
    no_shows   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, patient_id)
) STRICT;

CREATE TABLE charge (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    id         BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    booking_id BLOB,
    item_code  TEXT NOT NULL,
    item_name  TEXT NOT NULL,
    category   TEXT NOT NULL,
    unit_fen   INTEGER NOT NULL,
    quantity   INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE INDEX charge_patient_ix ON charge (org_id, patient_id, created_at);
CREATE INDEX charge_booking_ix ON charge (org_id, booking_id);

CREATE TABLE notification (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    id         BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    kind       TEXT NOT NULL,
    booking_id BLOB,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE INDEX notification_patient_ix ON notification (org_id, patient_id, created_at);

CREATE TABLE message (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    id         BLOB NOT NULL,
    patient_id BLOB,
    phone      TEXT NOT NULL,
    template   TEXT NOT NULL,
    body       TEXT NOT NULL,
    gateway    TEXT NOT NULL,
    status     TEXT NOT NULL,
    reference  TEXT,
    error      TEXT,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE INDEX message_created_ix ON message (org_id, created_at);

CREATE TABLE portal_otp (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    phone      TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    PRIMARY KEY (org_id, phone)
) STRICT;

CREATE TABLE portal_session (
    org_id       BLOB NOT NULL REFERENCES org (org_id),
    token_hash   TEXT NOT NULL,
    patient_id   BLOB NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, token_hash)
) STRICT;

CREATE TABLE portal_family (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    owner_id   BLOB NOT NULL,
    member_id  BLOB NOT NULL,
    relation   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, owner_id, member_id)
) STRICT;

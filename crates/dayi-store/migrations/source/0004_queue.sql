-- Pre-triage records (预检分诊登记), queue entries (one per checked-in
-- registration), each queue's call counter and doctors' call panels (which
-- queues a doctor calls from).

CREATE TABLE triage (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    patient_id  UUID NOT NULL,
    booking_id  UUID,
    day         TEXT NOT NULL,
    temperature BIGINT,
    symptoms    TEXT NOT NULL,
    exposures   TEXT NOT NULL,
    route       TEXT NOT NULL,
    dept_id     UUID,
    reasons     TEXT NOT NULL,
    priority    TEXT,
    nurse       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX triage_day_ix ON triage (org_id, day, route);
CREATE INDEX triage_patient_ix ON triage (org_id, patient_id, created_at);

CREATE TABLE queue_entry (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    booking_id     UUID NOT NULL,
    session_id     UUID NOT NULL,
    patient_id     UUID NOT NULL,
    day            TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    appointment    BOOLEAN NOT NULL,
    checked_in_at  BIGINT NOT NULL,
    late           BOOLEAN NOT NULL,
    recalled       BOOLEAN NOT NULL,
    mark           BIGINT NOT NULL,
    priority       BIGINT,
    priority_group TEXT,
    status         TEXT NOT NULL,
    calls          BIGINT NOT NULL,
    called_by      TEXT,
    called_at      BIGINT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, booking_id)
);
CREATE INDEX queue_entry_session_ix ON queue_entry (org_id, session_id, status);
CREATE INDEX queue_entry_patient_ix ON queue_entry (org_id, patient_id, day);

-- Calls made in each queue so far: "after every N" counts from a
-- patient's arrival or return (their entry's mark) to now.
CREATE TABLE queue_counter (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    session_id UUID NOT NULL,
    calls      BIGINT NOT NULL,
    PRIMARY KEY (org_id, session_id)
);

CREATE TABLE queue_panel (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    username     TEXT NOT NULL,
    day          TEXT NOT NULL,
    sessions     TEXT NOT NULL,
    paused       BOOLEAN NOT NULL,
    last_session UUID,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, username, day)
);

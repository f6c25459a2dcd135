-- Pre-triage records (预检分诊登记), queue entries (one per checked-in
-- registration), each queue's call counter and doctors' call panels (which
-- queues a doctor calls from).

CREATE TABLE triage (
    org_id      BLOB NOT NULL REFERENCES org (org_id),
    id          BLOB NOT NULL,
    patient_id  BLOB NOT NULL,
    booking_id  BLOB,
    day         TEXT NOT NULL,
    temperature INTEGER,
    symptoms    TEXT NOT NULL,
    exposures   TEXT NOT NULL,
    route       TEXT NOT NULL,
    dept_id     BLOB,
    reasons     TEXT NOT NULL,
    priority    TEXT,
    nurse       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE INDEX triage_day_ix ON triage (org_id, day, route);
CREATE INDEX triage_patient_ix ON triage (org_id, patient_id, created_at);

CREATE TABLE queue_entry (
    org_id         BLOB NOT NULL REFERENCES org (org_id),
    booking_id     BLOB NOT NULL,
    session_id     BLOB NOT NULL,
    patient_id     BLOB NOT NULL,
    day            TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    appointment    INTEGER NOT NULL,
    checked_in_at  INTEGER NOT NULL,
    late           INTEGER NOT NULL,
    recalled       INTEGER NOT NULL,
    mark           INTEGER NOT NULL,
    priority       INTEGER,
    priority_group TEXT,
    status         TEXT NOT NULL,
    calls          INTEGER NOT NULL,
    called_by      TEXT,
    called_at      INTEGER,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (org_id, booking_id)
) STRICT;
CREATE INDEX queue_entry_session_ix ON queue_entry (org_id, session_id, status);
CREATE INDEX queue_entry_patient_ix ON queue_entry (org_id, patient_id, day);

-- Calls made in each queue so far: "after every N" counts from a
-- patient's arrival or return (their entry's mark) to now.
CREATE TABLE queue_counter (
    org_id     BLOB NOT NULL REFERENCES org (org_id),
    session_id BLOB NOT NULL,
    calls      INTEGER NOT NULL,
    PRIMARY KEY (org_id, session_id)
) STRICT;

CREATE TABLE queue_panel (
    org_id       BLOB NOT NULL REFERENCES org (org_id),
    username     TEXT NOT NULL,
    day          TEXT NOT NULL,
    sessions     TEXT NOT NULL,
    paused       INTEGER NOT NULL,
    last_session BLOB,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (org_id, username, day)
) STRICT;

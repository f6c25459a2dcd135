-- Chronic-disease management (三高共管): the registry, its follow-ups and the
-- screening readings that feed it. Dates are ISO days (TEXT), as the
-- standard counts in days.

-- One record per disease per patient (高血压、2型糖尿病、血脂异常).
CREATE TABLE chronic_enrolment (
    org_id          UUID NOT NULL REFERENCES org (org_id),
    id              UUID NOT NULL,
    patient_id      UUID NOT NULL,
    disease         TEXT NOT NULL,
    diagnosed_on    TEXT NOT NULL,
    enrolled_on     TEXT NOT NULL,
    source          TEXT NOT NULL,
    doctor          TEXT NOT NULL,
    village         TEXT NOT NULL,
    related         TEXT NOT NULL,
    status          TEXT NOT NULL,
    closed_on       TEXT,
    closed_reason   TEXT NOT NULL,
    next_due        TEXT,
    next_kind       TEXT NOT NULL,
    last_class      TEXT,
    last_visit_on   TEXT,
    last_checkup_on TEXT,
    enrolled_by     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX chronic_enrolment_patient_ix ON chronic_enrolment (org_id, patient_id);
CREATE INDEX chronic_enrolment_due_ix ON chronic_enrolment (org_id, status, next_due);
CREATE INDEX chronic_enrolment_doctor_ix ON chronic_enrolment (org_id, doctor, status, next_due);
CREATE INDEX chronic_enrolment_village_ix ON chronic_enrolment (org_id, village, status, next_due);
CREATE INDEX chronic_enrolment_never_ix ON chronic_enrolment (org_id, status, last_visit_on, next_due);

-- One row per registry record per visit; a visit covering two diseases
-- (one round) writes two rows with the same round_id.
CREATE TABLE chronic_followup (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    id           UUID NOT NULL,
    round_id     UUID NOT NULL,
    enrolment_id UUID NOT NULL,
    patient_id   UUID NOT NULL,
    disease      TEXT NOT NULL,
    visited_on   TEXT NOT NULL,
    mode         TEXT NOT NULL,
    sbp          BIGINT,
    dbp          BIGINT,
    heart_rate   BIGINT,
    weight_milli BIGINT,
    bmi_tenths   BIGINT,
    fbg_milli    BIGINT,
    ldl_milli    BIGINT,
    class        TEXT NOT NULL,
    next_kind    TEXT NOT NULL,
    next_due     TEXT NOT NULL,
    controlled   BOOLEAN,
    checkup      BOOLEAN NOT NULL,
    detail       TEXT NOT NULL,
    doctor       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
-- Covers the indicators' per-record counts and latest verdict.
CREATE INDEX chronic_followup_enrolment_ix ON chronic_followup (org_id, enrolment_id, visited_on, created_at, mode, controlled);
CREATE INDEX chronic_followup_day_ix ON chronic_followup (org_id, visited_on);
CREATE INDEX chronic_followup_patient_ix ON chronic_followup (org_id, patient_id, visited_on);

-- Readings from a visit, a lab result or a screening campaign, with what
-- they suggest. A suggested disease the patient is not enrolled for opens a
-- proposal the doctor takes up (enrols) or dismisses.
CREATE TABLE chronic_screening (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    patient_id  UUID NOT NULL,
    screened_on TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_id   UUID,
    sbp         BIGINT,
    dbp         BIGINT,
    fbg_milli   BIGINT,
    tc_milli    BIGINT,
    ldl_milli   BIGINT,
    tg_milli    BIGINT,
    hdl_milli   BIGINT,
    bmi_tenths  BIGINT,
    risks       TEXT NOT NULL,
    suspected   TEXT NOT NULL,
    proposal    TEXT NOT NULL,
    next_due    TEXT NOT NULL,
    screened_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX chronic_screening_patient_ix ON chronic_screening (org_id, patient_id, screened_on);
CREATE INDEX chronic_screening_source_ix ON chronic_screening (org_id, source_id);
CREATE INDEX chronic_screening_proposal_ix ON chronic_screening (org_id, proposal, screened_on);
CREATE INDEX chronic_screening_day_ix ON chronic_screening (org_id, screened_on);

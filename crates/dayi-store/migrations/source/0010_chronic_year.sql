-- The indicators are yearly (年内已管理、规范管理、最近一次随访达标), so each
-- registry record keeps a summary per calendar year, updated with every
-- follow-up: a year's indicators read one short row per record instead of
-- every follow-up of the year.
CREATE TABLE chronic_year (
    org_id            UUID NOT NULL REFERENCES org (org_id),
    year              BIGINT NOT NULL,
    enrolment_id      UUID NOT NULL,
    -- Face-to-face follow-ups (clinic and home visits; phone calls do not count).
    face              BIGINT NOT NULL,
    -- The latest follow-up of the year (any mode) and its verdict.
    latest_on         TEXT NOT NULL,
    latest_at         BIGINT NOT NULL,
    latest_controlled BOOLEAN,
    PRIMARY KEY (org_id, year, enrolment_id)
);

INSERT INTO chronic_year (org_id, year, enrolment_id, face, latest_on, latest_at, latest_controlled)
SELECT org_id, year, enrolment_id, SUM(face), MAX(CASE WHEN rn = 1 THEN visited_on END),
--postgres:        MAX(CASE WHEN rn = 1 THEN created_at END), bool_or(CASE WHEN rn = 1 THEN controlled END)
--sqlite:        MAX(CASE WHEN rn = 1 THEN created_at END), MAX(CASE WHEN rn = 1 THEN controlled END)
FROM (SELECT org_id, enrolment_id, CAST(substr(visited_on, 1, 4) AS BIGINT) AS year, visited_on, created_at,
             controlled, CASE WHEN mode <> 'phone' THEN 1 ELSE 0 END AS face,
             ROW_NUMBER() OVER (PARTITION BY org_id, enrolment_id, substr(visited_on, 1, 4)
                                ORDER BY visited_on DESC, created_at DESC) AS rn
      FROM chronic_followup) f
GROUP BY org_id, year, enrolment_id;

-- The patients with a lipid test in a period: only the rows that hold one.
CREATE INDEX chronic_screening_lipid_ix ON chronic_screening (org_id, screened_on, patient_id)
    WHERE tc_milli IS NOT NULL OR ldl_milli IS NOT NULL OR tg_milli IS NOT NULL OR hdl_milli IS NOT NULL;
CREATE INDEX chronic_followup_ldl_ix ON chronic_followup (org_id, visited_on, patient_id) WHERE ldl_milli IS NOT NULL;
-- The summary replaces the per-record counting this index served.
DROP INDEX chronic_followup_enrolment_ix;

-- Worklist pages are ordered by due day and id; with the id in the index a
-- page is read straight from it, without sorting every record due that day.
DROP INDEX chronic_enrolment_due_ix;
DROP INDEX chronic_enrolment_doctor_ix;
DROP INDEX chronic_enrolment_village_ix;
DROP INDEX chronic_enrolment_never_ix;
CREATE INDEX chronic_enrolment_due_ix ON chronic_enrolment (org_id, status, next_due, id);
CREATE INDEX chronic_enrolment_doctor_ix ON chronic_enrolment (org_id, doctor, status, next_due, id);
CREATE INDEX chronic_enrolment_village_ix ON chronic_enrolment (org_id, village, status, next_due, id);
CREATE INDEX chronic_enrolment_never_ix ON chronic_enrolment (org_id, status, last_visit_on, next_due, id);
-- Referrals: urgent ones first, then by due day.
CREATE INDEX chronic_enrolment_kind_ix ON chronic_enrolment (org_id, status, next_kind DESC, next_due, id);

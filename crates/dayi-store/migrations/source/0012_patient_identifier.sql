-- Identifiers other systems give a patient (another hospital's record
-- number, another country's national number, one with no system at all),
-- kept as received so that FHIR clients find the patient by them. Ours
-- (ID documents, the hospital card number, the health card) stay on the
-- patient row. A merge moves these rows like any other of the patient.

CREATE TABLE patient_identifier (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    patient_id UUID NOT NULL,
    -- '' when the identifier names no system
    system     TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX patient_identifier_patient_ix ON patient_identifier (org_id, patient_id);
-- `identifier=value` (any system) and `identifier=system|value` seek here.
CREATE INDEX patient_identifier_value_ix ON patient_identifier (org_id, value, system);
-- Within its system an identifier names one person; a value without a
-- system names no namespace, so it may repeat.
CREATE UNIQUE INDEX patient_identifier_uq ON patient_identifier (org_id, system, value) WHERE system <> '';

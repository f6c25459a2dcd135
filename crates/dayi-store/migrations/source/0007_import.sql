-- Records received from other systems (院外记录) by FHIR import: kept as
-- received, with their references rewritten to ours and linked to our
-- patient, so a merge moves them like any other record of the patient.

CREATE TABLE outside_record (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    id          UUID NOT NULL,
    kind        TEXT NOT NULL,
    patient_id  UUID,
    resource    TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX outside_record_patient_ix ON outside_record (org_id, patient_id, kind);

-- Where each imported resource came from (its fullUrl, its id in the other
-- system, or a foreign identifier), so importing the same data again finds
-- what the first import wrote instead of writing it twice.
CREATE TABLE import_key (
    org_id   UUID NOT NULL REFERENCES org (org_id),
    source   TEXT COLLATE "C" NOT NULL,
    kind     TEXT NOT NULL,
    local_id UUID NOT NULL,
    PRIMARY KEY (org_id, source)
);

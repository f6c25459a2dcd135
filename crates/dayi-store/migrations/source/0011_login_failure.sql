-- Failed sign-ins counted for subjects that have no counter of their own:
-- staff user names not on file (so they lock exactly like real accounts and
-- reveal nothing), portal identities (a resident ID number, hashed), and
-- client addresses. `subject` is 'user:' / 'id:' + a SHA-256, or 'ip:' + the
-- address. Failures count from `window_start`; at the limit the subject is
-- locked until `locked_until`.
CREATE TABLE login_failure (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    subject      TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (org_id, subject)
);

-- Foundation: organisations, departments, staff, sessions, API tokens,
-- audit log with hash chain, dated settings. Instants are BIGINT
--postgres: -- microseconds since the epoch (UTC), the same as on SQLite.
--sqlite: -- microseconds since the epoch (UTC); ids are UUIDv7 as 16-byte BLOBs.

CREATE TABLE org (
    org_id        UUID NOT NULL PRIMARY KEY,
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    tier          TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    parent_org_id UUID,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX org_code_uq ON org (code);

CREATE TABLE dept (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    id         UUID NOT NULL,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX dept_code_uq ON dept (org_id, code);

CREATE TABLE staff (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    id            UUID NOT NULL,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    dept_id       UUID,
    roles         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    totp_secret   TEXT,
    totp_required BOOLEAN NOT NULL,
    failed_count  INTEGER NOT NULL,
    locked_until  BIGINT,
    last_login_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX staff_username_uq ON staff (org_id, username);

CREATE TABLE role_policy (
    org_id        UUID NOT NULL REFERENCES org (org_id),
    role          TEXT NOT NULL,
    require_totp  BOOLEAN NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, role)
);

CREATE TABLE session (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    token_hash   TEXT NOT NULL,
    staff_id     UUID NOT NULL,
    stage        TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, token_hash)
);
CREATE INDEX session_staff_ix ON session (org_id, staff_id);

CREATE TABLE api_token (
    org_id       UUID NOT NULL REFERENCES org (org_id),
    id           UUID NOT NULL,
    staff_id     UUID NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    created_by   UUID NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX api_token_hash_uq ON api_token (org_id, token_hash);

CREATE TABLE audit_log (
    org_id      UUID NOT NULL REFERENCES org (org_id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor_id    UUID,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    patient_id  UUID,
    ip          TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_log_at_ix ON audit_log (org_id, at);
CREATE INDEX audit_log_actor_ix ON audit_log (org_id, actor_id, seq);
CREATE INDEX audit_log_patient_ix ON audit_log (org_id, patient_id, seq);

--sqlite: -- The newest sealed entry and the anchor before the oldest kept one.
CREATE TABLE audit_head (
    org_id      UUID NOT NULL PRIMARY KEY REFERENCES org (org_id),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);

--sqlite: -- Dated configuration: policy numbers valid from a date, per organisation.
CREATE TABLE setting (
    org_id         UUID NOT NULL REFERENCES org (org_id),
    key            TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    value          TEXT NOT NULL,
    source         TEXT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, key, effective_from)
);

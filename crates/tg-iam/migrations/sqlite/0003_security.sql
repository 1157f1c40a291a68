-- Security to 等保三级 / 密评: key hierarchy, second factor, login nonces, row MACs, checkpoints,
-- signing keys, security settings and the security message list.

-- Key hierarchy below the root key (which never enters the database): purpose keys (domain '') are
-- wrapped by the root key; data keys (domain <> '') are wrapped by the purpose key of the same version.
CREATE TABLE crypto_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose    TEXT NOT NULL,
    domain     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    wrapped    TEXT NOT NULL,
    kcv        TEXT NOT NULL,
    root_kcv   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (purpose, domain, version)
);

ALTER TABLE audit_log ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;

-- Personal data: the phone column now holds an SM4-GCM envelope; phone_bidx is its HMAC-SM3 blind index.
ALTER TABLE users ADD COLUMN phone_bidx TEXT;
CREATE INDEX users_phone_bidx ON users(phone_bidx);
ALTER TABLE users ADD COLUMN expires_at INTEGER;
ALTER TABLE users ADD COLUMN acl_mac TEXT NOT NULL DEFAULT '';

ALTER TABLE roles ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
ALTER TABLE roles ADD COLUMN mac TEXT NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN aal INTEGER NOT NULL DEFAULT 1;

-- GM/T 0021 SM3 dynamic-password tokens; the seed is an SM4-GCM envelope.
CREATE TABLE user_otp (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id),
    secret_enc   TEXT NOT NULL,
    status       TEXT NOT NULL,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER
);

-- Single-use login nonces for the SM2 password envelope.
CREATE TABLE auth_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_nonces_expiry ON auth_nonces(expires_at);

-- Security settings edited by the security administrator; each row carries an HMAC-SM3 MAC.
CREATE TABLE security_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    mac        TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);

-- Daily SM2-signed checkpoints of the audit chain (detect tail truncation).
CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    last_mac    TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    signature   TEXT NOT NULL
);

-- SM2 signing keys: the system key (user_id NULL) and users' keys for approvals and instructions.
CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    usage       TEXT NOT NULL,
    user_id     INTEGER REFERENCES users(id),
    public_key  TEXT NOT NULL,
    secret_enc  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
CREATE INDEX signing_keys_user ON signing_keys(user_id);

-- The message list: security alerts and, later, notices of every module.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    kind       TEXT NOT NULL,
    level      TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX messages_user ON messages(user_id, id);

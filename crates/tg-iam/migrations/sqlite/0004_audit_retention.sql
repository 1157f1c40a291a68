-- Retention: rows older than the legal minimum (≥ 180 days) may be purged, and only through the purge
-- gate: the purge transaction writes its cutoff here, deletes, and removes the gate before it commits.
CREATE TABLE audit_purge_gate (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cutoff INTEGER NOT NULL
);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_gate WHERE OLD.at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- Where the chain starts after a purge: the first kept row's predecessor link, MACed with the audit key.
CREATE TABLE audit_anchor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    first_seq   INTEGER NOT NULL,
    prev_mac    TEXT NOT NULL,
    purged_rows INTEGER NOT NULL,
    purged_at   INTEGER NOT NULL,
    mac         TEXT NOT NULL
);

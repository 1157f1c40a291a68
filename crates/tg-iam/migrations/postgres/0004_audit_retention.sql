-- Retention: rows older than the legal minimum (≥ 180 days) may be purged, and only through the purge
-- gate: the purge transaction writes its cutoff here, deletes, and removes the gate before it commits.
CREATE TABLE audit_purge_gate (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    cutoff BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION tg_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_gate WHERE OLD.at < cutoff) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
-- Where the chain starts after a purge: the first kept row's predecessor link, MACed with the audit key.
CREATE TABLE audit_anchor (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    first_seq   BIGINT NOT NULL,
    prev_mac    TEXT NOT NULL,
    purged_rows BIGINT NOT NULL,
    purged_at   BIGINT NOT NULL,
    mac         TEXT NOT NULL
);

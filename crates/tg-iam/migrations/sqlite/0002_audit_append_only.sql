-- The audit trail is append-only: the database refuses updates and deletes of audit rows.
-- (Someone who can drop these triggers can still edit rows; the HMAC-SM3 chain detects that.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

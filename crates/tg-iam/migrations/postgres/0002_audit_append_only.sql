-- The audit trail is append-only: the database refuses updates and deletes of audit rows.
-- (Someone who can disable this trigger can still edit rows; the HMAC-SM3 chain detects that.)
CREATE FUNCTION tg_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tg_audit_append_only();

-- 010: retention.  Housekeeping deletes refresh-token sessions expired for
-- more than mam_session_retention and audit rows older than
-- mam_audit_retention.  Each call deletes one bounded batch in its own
-- statement (its own transaction): it locks at most p_batch rows, never
-- waits for a row another transaction holds, and the module calls again
-- while a batch came back full.

-- expired sessions are found through expires_at; audit rows through
-- audit_log_at_idx (001)
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE FUNCTION mam_session_purge(p_retention integer, p_batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    DELETE FROM sessions
     WHERE id IN (SELECT id FROM sessions
                   WHERE expires_at < now() - make_interval(secs => p_retention)
                   ORDER BY expires_at LIMIT p_batch
                   FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

CREATE FUNCTION mam_audit_purge(p_retention integer, p_batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    DELETE FROM audit_log
     WHERE id IN (SELECT id FROM audit_log
                   WHERE at < now() - make_interval(secs => p_retention)
                   ORDER BY at LIMIT p_batch
                   FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- the audit log's own shortening is audited: one row per housekeeping run
-- that deleted anything
CREATE FUNCTION mam_audit_purged(p_retention integer, p_count bigint)
RETURNS void LANGUAGE sql AS $$
    SELECT mam_audit(NULL, 'audit_purge', 'audit_log', NULL, NULL,
                     jsonb_build_object('deleted', p_count,
                                        'retention', p_retention))
$$;

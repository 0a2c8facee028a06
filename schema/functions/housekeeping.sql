-- Housekeeping: one worker (worker 0), periodically.

-- What to look at on disk: stale uploads (not promoted within
-- p_staging_ttl seconds), with whether they left a partial or an S3
-- multipart upload behind, and promotions older than p_stuck seconds
-- (their request died between the file and the version row).
CREATE OR REPLACE FUNCTION mam_housekeeping_work(p_staging_ttl integer,
                                                 p_stuck integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'uploads', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', u.id,
                                                'staging_key', u.staging_key,
                                                'resumable', u.resumable,
                                                's3_upload_id', u.s3_upload_id))
              FROM (SELECT id, staging_key, resumable, s3_upload_id
                      FROM uploads
                     WHERE status IN ('pending', 'complete')
                       AND created_at < now() - make_interval(secs => p_staging_ttl)
                       -- a resumable upload may take days: never while
                       -- its URL is valid
                       AND (NOT resumable OR status <> 'pending'
                            OR expires_at < now())
                       AND NOT EXISTS (SELECT 1 FROM promotions p
                                        WHERE p.upload_id = uploads.id)
                     ORDER BY created_at LIMIT 100) u), '[]'::jsonb),
        'promotions', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', p.id,
                                                'master_key', p.master_key,
                                                'staging_key', p.staging_key,
                                                'size', p.size))
              FROM (SELECT id, master_key, staging_key, size FROM promotions
                     WHERE created_at < now() - make_interval(secs => p_stuck)
                     ORDER BY created_at LIMIT 100) p), '[]'::jsonb))
$$;

-- an expired upload's staging object is gone
CREATE OR REPLACE FUNCTION mam_upload_expire(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET status = 'expired'
     WHERE id = p_id AND status IN ('pending', 'complete');
    IF FOUND THEN
        UPDATE assets SET staging_key = NULL, upload_id = NULL
         WHERE upload_id = p_id;
        PERFORM mam_audit(NULL, 'upload_expire', 'upload', p_id::text, NULL,
                          NULL);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- Retention.  Housekeeping deletes refresh-token sessions expired for
-- more than mam_session_retention and audit rows older than
-- mam_audit_retention.  Each call deletes one bounded batch in its own
-- statement (its own transaction): it locks at most p_batch rows, never
-- waits for a row another transaction holds, and the module calls again
-- while a batch came back full.  (The indexes that find them:
-- sessions_expires_idx, audit_log_at_idx.)
CREATE OR REPLACE FUNCTION mam_session_purge(p_retention integer,
                                             p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION mam_audit_purge(p_retention integer,
                                           p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION mam_audit_purged(p_retention integer,
                                            p_count bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT mam_audit(NULL, 'audit_purge', 'audit_log', NULL, NULL,
                     jsonb_build_object('deleted', p_count,
                                        'retention', p_retention))
$$;

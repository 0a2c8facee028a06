-- 010: quotas (mam_user_quota, mam_uploads_pending).  Presign checks and
-- inserts in one call: a per-user advisory lock (only taken when a limit
-- applies) serializes a user's presigns, so two of them cannot both pass
-- on the same remaining space.  What a user holds is counted from uploads
-- alone: pending uploads not yet expired (their reserved size), complete
-- ones (in staging) and consumed ones (promoted: the master, which a soft
-- delete keeps).  Expired and terminated uploads count for nothing.
CREATE INDEX uploads_quota_idx ON uploads (user_id, status)
    INCLUDE (size, expires_at)
    WHERE status IN ('pending', 'complete', 'consumed');

DROP FUNCTION mam_presign(uuid, text, text, text, bigint, integer, text,
                          boolean);

-- p_quota: bytes (NULL: no limit); p_pending: open uploads (NULL: none).
-- Outcomes: ok; quota {used, quota}; pending {open, pending}.
CREATE FUNCTION mam_presign(p_user uuid, p_filename text, p_safe text,
                            p_type text, p_size bigint, p_ttl integer,
                            p_ip text, p_resumable boolean, p_quota bigint,
                            p_pending integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id    uuid := gen_random_uuid();
    v_used  bigint;
    v_open  bigint;
    up      uploads;
BEGIN
    IF p_quota IS NOT NULL OR p_pending IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(727004, hashtext(p_user::text));

        SELECT coalesce(sum(size), 0),
               count(*) FILTER (WHERE status = 'pending')
          INTO v_used, v_open
          FROM uploads
         WHERE user_id = p_user
           AND status IN ('pending', 'complete', 'consumed')
           AND (status <> 'pending' OR expires_at > now());

        IF p_pending IS NOT NULL AND v_open >= p_pending THEN
            RETURN jsonb_build_object('outcome', 'pending', 'open', v_open,
                                      'pending', p_pending);
        END IF;

        IF p_quota IS NOT NULL AND v_used + p_size > p_quota THEN
            RETURN jsonb_build_object('outcome', 'quota', 'used', v_used,
                                      'quota', p_quota);
        END IF;
    END IF;

    INSERT INTO uploads (id, user_id, staging_key, filename, content_type,
                         size, expires_at, resumable)
    VALUES (v_id, p_user, 'uploads/' || p_user || '/' || v_id || '/' || p_safe,
            p_filename, p_type, p_size,
            date_trunc('second', now()) + make_interval(secs => p_ttl),
            p_resumable)
    RETURNING * INTO up;

    PERFORM mam_audit(p_user, 'presign', 'upload', up.id::text, p_ip,
                      jsonb_build_object('filename', p_filename,
                                         'size', p_size,
                                         'content_type', p_type,
                                         'resumable', p_resumable));

    RETURN jsonb_build_object('outcome', 'ok', 'id', up.id,
        'staging_key', up.staging_key,
        'expires', extract(epoch FROM up.expires_at)::bigint,
        'expires_at', mam_time(up.expires_at));
END
$$;

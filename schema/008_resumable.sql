-- 008: resumable uploads.  A resumable upload is the same record as a
-- single PUT (same staging key, size, owner and expiry) received in pieces:
-- tus 1.0 on local storage (the bytes so far in a partial file beside the
-- key), an S3 multipart upload on S3 (its UploadId kept here).  A client
-- may terminate one: 'terminated' is final, like 'expired'.
ALTER TABLE uploads
    ADD COLUMN resumable     boolean NOT NULL DEFAULT false,
    ADD COLUMN s3_upload_id  text CHECK (length(s3_upload_id) <= 1024),
    ADD COLUMN part_size     bigint CHECK (part_size > 0);

ALTER TABLE uploads DROP CONSTRAINT uploads_status_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_status_check
    CHECK (status IN ('pending', 'complete', 'consumed', 'expired',
                      'terminated'));

DROP FUNCTION mam_presign(uuid, text, text, text, bigint, integer, text);

CREATE FUNCTION mam_presign(p_user uuid, p_filename text, p_safe text,
                            p_type text, p_size bigint, p_ttl integer,
                            p_ip text, p_resumable boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id   uuid := gen_random_uuid();
    up     uploads;
BEGIN
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

CREATE OR REPLACE FUNCTION mam_upload_state(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('outcome', status, 'size', size,
                                   'staging_key', staging_key,
                                   'expired', expires_at <= now(),
                                   'expires',
                                       extract(epoch FROM expires_at)::bigint,
                                   'user_id', user_id,
                                   'resumable', resumable,
                                   's3_upload_id', s3_upload_id,
                                   'part_size', part_size)
           FROM uploads WHERE id = p_id),
        jsonb_build_object('outcome', 'missing'))
$$;

-- S3: the multipart upload that carries this upload, and its part size
CREATE FUNCTION mam_upload_multipart(p_id uuid, p_s3_upload_id text,
                                     p_part_size bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET s3_upload_id = p_s3_upload_id, part_size = p_part_size
     WHERE id = p_id AND status = 'pending' AND resumable
       AND s3_upload_id IS NULL;
    RETURN jsonb_build_object('outcome', CASE WHEN FOUND THEN 'ok'
                                              ELSE 'conflict' END);
END
$$;

-- termination (tus DELETE, or aborting the S3 multipart upload): only the
-- owner's pending resumable upload
CREATE FUNCTION mam_upload_terminate(p_id uuid, p_user uuid, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    UPDATE uploads SET status = 'terminated'
     WHERE id = p_id AND user_id = p_user AND status = 'pending' AND resumable
    RETURNING * INTO up;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'conflict');
    END IF;
    PERFORM mam_audit(p_user, 'upload_terminate', 'upload', p_id::text, p_ip,
                      NULL);
    RETURN jsonb_build_object('outcome', 'ok');
END
$$;

-- housekeeping also learns whether a stale upload left a partial or an
-- S3 multipart upload behind
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

-- Uploads: presign, the single PUT, and resumable uploads (tus on local
-- storage, an S3 multipart upload on S3), which are the same record
-- received in pieces.  Housekeeping's side is in housekeeping.sql.

-- POST /api/presign: the upload's record; the module signs the URL.
-- Quotas: presign checks and inserts in one call; a per-user advisory lock
-- (only taken when a limit applies) serializes a user's presigns, so two of
-- them cannot both pass on the same remaining space.  What a user holds is
-- counted from uploads alone: pending uploads not yet expired (their
-- reserved size), complete ones (in staging) and consumed ones (promoted:
-- the master, which a soft delete keeps).  Expired and terminated uploads
-- count for nothing.
-- p_quota: bytes (NULL: no limit); p_pending: open uploads (NULL: none).
-- Outcomes: ok; quota {used, quota}; pending {open, pending}.
CREATE OR REPLACE FUNCTION mam_presign(p_user uuid, p_filename text,
                                       p_safe text, p_type text, p_size bigint,
                                       p_ttl integer, p_ip text,
                                       p_resumable boolean, p_quota bigint,
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
            RETURN jsonb_build_object('outcome', 'pending'::mam_outcome,
                                      'open', v_open,
                                      'pending', p_pending);
        END IF;

        IF p_quota IS NOT NULL AND v_used + p_size > p_quota THEN
            RETURN jsonb_build_object('outcome', 'quota'::mam_outcome,
                                      'used', v_used,
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

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome, 'id', up.id,
        'staging_key', up.staging_key,
        'expires', extract(epoch FROM up.expires_at)::bigint,
        'expires_at', mam_time(up.expires_at));
END
$$;

-- PUT, tus and S3 parts: may this upload receive its body, and how?  (the
-- signature is checked first)
CREATE OR REPLACE FUNCTION mam_upload_state(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('outcome', status::mam_outcome,
                                   'size', size,
                                   'staging_key', staging_key,
                                   'expired', expires_at <= now(),
                                   'expires',
                                       extract(epoch FROM expires_at)::bigint,
                                   'user_id', user_id,
                                   'resumable', resumable,
                                   's3_upload_id', s3_upload_id,
                                   'part_size', part_size)
           FROM uploads WHERE id = p_id),
        jsonb_build_object('outcome', 'missing'::mam_outcome))
$$;

-- PUT: the body is in place at the staging key
CREATE OR REPLACE FUNCTION mam_upload_complete(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    UPDATE uploads SET status = 'complete', completed_at = now()
     WHERE id = p_id AND status = 'pending'
    RETURNING * INTO up;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'staging_key', up.staging_key,
                              'size', up.size);
END
$$;

-- The caller's own complete upload, not yet attached to an asset.
-- Outcomes: ok (with the upload), invalid, not_yours, incomplete, taken.
CREATE OR REPLACE FUNCTION mam_claim_upload(p_user uuid, p_key text,
                                            p_asset uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    SELECT * INTO up FROM uploads WHERE staging_key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
    END IF;
    IF up.user_id <> p_user THEN
        RETURN jsonb_build_object('outcome', 'not_yours'::mam_outcome);
    END IF;
    IF up.status <> 'complete' THEN
        RETURN jsonb_build_object('outcome', 'incomplete'::mam_outcome);
    END IF;
    IF EXISTS (SELECT 1 FROM assets WHERE upload_id = up.id
                                      AND id IS DISTINCT FROM p_asset)
       OR EXISTS (SELECT 1 FROM promotions WHERE upload_id = up.id) THEN
        RETURN jsonb_build_object('outcome', 'taken'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome, 'id', up.id);
END
$$;

-- With S3 storage the browser PUTs straight to the staging bucket, so
-- the module learns that an upload is complete from a HEAD of the object:
-- present with the presigned size.
CREATE OR REPLACE FUNCTION mam_upload_seen(p_key text, p_size bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET status = 'complete', completed_at = now()
     WHERE staging_key = p_key AND status = 'pending' AND size = p_size;
    RETURN jsonb_build_object('outcome', CASE WHEN FOUND
                                              THEN 'ok'::mam_outcome
                                              ELSE 'unchanged'::mam_outcome END);
END
$$;

-- S3: the multipart upload that carries this upload, and its part size
CREATE OR REPLACE FUNCTION mam_upload_multipart(p_id uuid, p_s3_upload_id text,
                                                p_part_size bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET s3_upload_id = p_s3_upload_id, part_size = p_part_size
     WHERE id = p_id AND status = 'pending' AND resumable
       AND s3_upload_id IS NULL;
    RETURN jsonb_build_object('outcome', CASE WHEN FOUND
                                              THEN 'ok'::mam_outcome
                                              ELSE 'conflict'::mam_outcome END);
END
$$;

-- termination (tus DELETE, or aborting the S3 multipart upload): only the
-- owner's pending resumable upload
CREATE OR REPLACE FUNCTION mam_upload_terminate(p_id uuid, p_user uuid,
                                                p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    UPDATE uploads SET status = 'terminated'
     WHERE id = p_id AND user_id = p_user AND status = 'pending' AND resumable
    RETURNING * INTO up;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome);
    END IF;
    PERFORM mam_audit(p_user, 'upload_terminate', 'upload', p_id::text, p_ip,
                      NULL);
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

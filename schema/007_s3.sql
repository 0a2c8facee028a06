-- 007: with S3 storage the browser PUTs straight to the staging bucket, so
-- the module learns that an upload is complete from a HEAD of the object:
-- present with the presigned size.
CREATE FUNCTION mam_upload_seen(p_key text, p_size bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET status = 'complete', completed_at = now()
     WHERE staging_key = p_key AND status = 'pending' AND size = p_size;
    RETURN jsonb_build_object('outcome', CASE WHEN FOUND THEN 'ok'
                                              ELSE 'unchanged' END);
END
$$;

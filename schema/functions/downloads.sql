-- Downloads (017): POST /api/versions/:id/download.  Members of the
-- asset's project with can_download (and admins) get the file of the
-- original or of a rendition; other members are refused (forbidden), and
-- a non-member learns nothing (not_found).  The module signs the URL:
-- an edge download URL (local storage) or a presigned S3 GET, both with
-- the file name of the answer in their Content-Disposition.

-- Outcomes: ok {asset_id, version_id, key, filename}, not_found (no such
-- version or rendition, or not a member), forbidden (no can_download),
-- not_ready (a rendition that has no file of its own to download).
CREATE OR REPLACE FUNCTION mam_version_download(p_version uuid, p_user uuid,
                                                p_admin boolean,
                                                p_rendition text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r      record;
    v_key  text;
BEGIN
    SELECT a.id AS asset_id, a.project_id, a.title, v.id AS version_id,
           v.number, v.master_key, v.filename, j.status, j.renditions
      INTO r
      FROM versions v
      JOIN assets a ON a.id = v.asset_id
      LEFT JOIN preview_jobs j ON j.id = v.preview_job_id
     WHERE v.id = p_version AND a.deleted_at IS NULL
       AND mam_project_rank(a.project_id, p_user, p_admin) > 0;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF NOT mam_project_may_download(r.project_id, p_user, p_admin) THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    IF p_rendition = 'original' THEN
        v_key := r.master_key;
    ELSE
        IF r.status IS DISTINCT FROM 'ready'
           OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r.renditions) e
                           WHERE e->>'name' = p_rendition)
        THEN
            RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
        END IF;
        -- transcoderd writes a rendition as HLS segments only: nothing
        -- to hand over as one file yet
        RETURN jsonb_build_object('outcome', 'not_ready'::mam_outcome);
    END IF;

    PERFORM mam_audit(p_user, 'download', 'version', r.version_id::text,
                      p_ip, jsonb_build_object('asset_id', r.asset_id,
                                               'project_id', r.project_id,
                                               'rendition', p_rendition));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
        'asset_id', r.asset_id, 'version_id', r.version_id, 'key', v_key,
        'filename', coalesce(r.filename,
                             r.title || ' v' || r.number
                             || coalesce('.' || substring(r.master_key
                                                  FROM '\.([A-Za-z0-9]{1,10})$'),
                                         '')));
END
$$;

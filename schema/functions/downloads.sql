-- Downloads (017): POST /api/versions/:id/download.  Members of the
-- asset's project with can_download (and admins) get the file of the
-- original or of a rendition; other members are refused (forbidden), and
-- a non-member learns nothing (not_found).  The module signs the URL:
-- an edge download URL (local storage) or a presigned S3 GET, both with
-- the file name of the answer in their Content-Disposition.

-- Outcomes: ok {asset_id, version_id, key, filename}, not_found (no such
-- version or rendition, or not a member), forbidden (no can_download),
-- not_ready (a rendition rendered before transcoderd wrote downloads: no
-- file of its own).  A rendition's file is downloads/NAME.mp4 of the
-- version's preview folder, named after the original: "clip 720p.mp4".
CREATE OR REPLACE FUNCTION mam_version_download(p_version uuid, p_user uuid,
                                                p_admin boolean,
                                                p_rendition text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r       record;
    v_key   text;
    v_name  text;
BEGIN
    SELECT a.id AS asset_id, a.project_id, a.title, v.id AS version_id,
           v.number, v.master_key, v.filename, v.preview_prefix, j.status,
           j.renditions
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
        v_name := coalesce(r.filename,
                           r.title || ' v' || r.number
                           || coalesce('.' || substring(r.master_key
                                                FROM '\.([A-Za-z0-9]{1,10})$'),
                                       ''));
    ELSE
        IF r.status IS DISTINCT FROM 'ready'
           OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r.renditions) e
                           WHERE e->>'name' = p_rendition)
        THEN
            RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
        END IF;
        -- transcoderd remuxes each rendition with the audio into
        -- downloads/NAME.mp4 of the preview folder; a preview rendered
        -- before it did has no such file
        IF r.preview_prefix IS NULL
           OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r.renditions) e
                           WHERE e->>'name' = p_rendition
                             AND e->>'download' = 'downloads/' || p_rendition
                                                  || '.mp4')
        THEN
            RETURN jsonb_build_object('outcome', 'not_ready'::mam_outcome);
        END IF;
        v_key := r.preview_prefix || 'downloads/' || p_rendition || '.mp4';
        -- the original's name without its extension, then the rendition
        v_name := coalesce(substring(r.filename FROM '^(.+)\.[^.]*$'),
                           r.filename, r.title || ' v' || r.number)
                  || ' ' || p_rendition || '.mp4';
    END IF;

    PERFORM mam_audit(p_user, 'download', 'version', r.version_id::text,
                      p_ip, jsonb_build_object('asset_id', r.asset_id,
                                               'project_id', r.project_id,
                                               'rendition', p_rendition));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
        'asset_id', r.asset_id, 'version_id', r.version_id, 'key', v_key,
        'filename', v_name);
END
$$;

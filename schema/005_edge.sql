-- 005: what POST /api/sign-preview needs: the version (given, or the
-- asset's latest) of a live asset, and whether its preview is ready.
-- Outcomes: ok (asset_id, version_id), not_found, not_ready.
CREATE FUNCTION mam_preview_playable(p_asset uuid, p_version uuid)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object(
                    'outcome', CASE WHEN j.status = 'ready' THEN 'ok'
                                    ELSE 'not_ready' END,
                    'asset_id', a.id, 'version_id', v.id)
           FROM assets a
           JOIN versions v ON v.asset_id = a.id
           LEFT JOIN preview_jobs j ON j.id = v.preview_job_id
          WHERE a.id = p_asset AND a.deleted_at IS NULL
            AND (p_version IS NULL OR v.id = p_version)
          ORDER BY v.number DESC
          LIMIT 1),
        jsonb_build_object('outcome', 'not_found'))
$$;

-- Revocation of playback URLs (030, README Revocation): each asset has a
-- play epoch, signed into its playback URLs; bumping it makes the URLs
-- already handed out stop playing once the edges' caches of the epoch
-- expire (mam_edge_epoch_ttl, at most a minute).

-- How long ago a URL may have been signed and still play: the longest TTL
-- (api.md: ttl_sec at most 3600), the minute play_signed_at may lag, and
-- a minute for clocks.  A bump only matters for assets signed within it;
-- the epochs the edges read (Redis) live as long.
CREATE OR REPLACE FUNCTION mam_play_window() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT 3720
$$;

-- A URL is being signed for the asset: it can now be playing (kept to the
-- minute, so a busy asset is not written on every sign).
CREATE OR REPLACE FUNCTION mam_play_signed(p_asset uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE assets SET play_signed_at = now()
     WHERE id = p_asset
       AND (play_signed_at IS NULL
            OR play_signed_at < now() - interval '60 seconds');
END
$$;

-- Bumps the play epoch of those of p_assets that may have URLs playing
-- (all of them with p_always); [{asset_id, epoch}] of them, for the caller
-- to publish to the edges (ngx_mam_edge_revoke) once this commits.  The
-- one entry point for every revocation: asset delete and move, member
-- removal, share revocation, a replaced ladder.
CREATE OR REPLACE FUNCTION mam_play_revoke(p_assets uuid[],
                                           p_always boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v  jsonb;
BEGIN
    WITH bumped AS (
        UPDATE assets SET play_epoch = play_epoch + 1, play_epoch_at = now()
         WHERE id = ANY (p_assets)
           AND (p_always
                OR play_signed_at
                   > now() - make_interval(secs => mam_play_window()))
        RETURNING id, play_epoch
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('asset_id', id,
                                                 'epoch', play_epoch)),
                    '[]'::jsonb)
      INTO v FROM bumped;
    RETURN v;
END
$$;

-- every asset of a project that may have URLs playing (a member leaves)
CREATE OR REPLACE FUNCTION mam_play_revoke_project(p_project uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN mam_play_revoke(ARRAY(
        SELECT id FROM assets
         WHERE project_id = p_project
           AND play_signed_at > now()
                                - make_interval(secs => mam_play_window())));
END
$$;

-- The asset's ladder is replaced under the same prefix (a forced re-run
-- finished, or a progressive attempt withdrawn for a retry): the epoch
-- goes up whether or not a URL was signed lately, because it is also the
-- ladder's generation in the edge cache's key (README, S3 edge cache), so
-- no edge serves a cached file of the old ladder with the new one.  The
-- asset's playback URLs stop; players sign again.
CREATE OR REPLACE FUNCTION mam_play_republish(p_asset uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN mam_play_revoke(ARRAY[p_asset], true);
END
$$;

-- The epochs that went up within the window (at most 10000, the newest),
-- [{asset_id, epoch}]: worker 0 publishes them again every
-- mam_preview_reconcile_interval, so a Redis that restarted without its
-- data learns the revocations that still matter back.
CREATE OR REPLACE FUNCTION mam_play_recent() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('asset_id', id,
                                                 'epoch', play_epoch)),
                    '[]'::jsonb)
      FROM (SELECT id, play_epoch FROM assets
             WHERE play_epoch_at > now()
                                   - make_interval(secs => mam_play_window())
             ORDER BY play_epoch_at DESC
             LIMIT 10000) a
$$;

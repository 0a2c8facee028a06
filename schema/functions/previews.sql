-- Preview orchestration.  PostgreSQL holds each job's state; the Redis
-- stream previews:build only carries it (pipeline.md).  Every function
-- returns what the module needs to answer, to XADD and to PUBLISH.
-- Reconciliation (worker 0) matches stream entries by the job_id they
-- carry, and leaves a job alone while it is younger than a grace period:
-- between a promote's commit and its XADD, PostgreSQL already has the job
-- and the stream not yet its entry.

-- Whether a version's preview can be played now (025): its job is ready,
-- or transcoderd published the first segments of every stream of a first
-- run (`playable`, until the job fails), or a ladder of an earlier job is
-- still published (preview_prefix: a forced re-run keeps the previous
-- ladder until the new one replaces it, and keeps it when it fails).
CREATE OR REPLACE FUNCTION mam_preview_can_play(v versions, j preview_jobs)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(j.status = 'ready' OR j.playable, false)
           OR v.preview_prefix IS NOT NULL
$$;

-- preview_status of api.md for a version
CREATE OR REPLACE FUNCTION mam_preview_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object(
                    'version_id', v.id, 'job_id', j.id, 'status', j.status,
                    'progress', j.progress, 'error', j.error,
                    'playable', mam_preview_can_play(v, j),
                    'renditions', j.renditions,
                    'updated_at', mam_time(j.updated_at))
           FROM preview_jobs j WHERE j.id = v.preview_job_id),
        jsonb_build_object('version_id', v.id, 'job_id', NULL,
                           'status', 'none', 'progress', 0, 'error', NULL,
                           'playable', v.preview_prefix IS NOT NULL,
                           'renditions', '[]'::jsonb,
                           'updated_at', mam_time(v.created_at)))
$$;

-- POST /api/sign-preview: the version (given, or the asset's latest) of
-- a live asset the caller may see, and whether its preview can be played
-- (mam_preview_can_play: ready, or playable while transcoding); a
-- playback signed is audited (play_sign).
-- Outcomes: ok (asset_id, version_id, epoch: the asset's play epoch to
-- sign in, 030), not_found (also for a non-member of the asset's
-- project), not_ready.
CREATE OR REPLACE FUNCTION mam_preview_playable(p_asset uuid, p_version uuid,
                                                p_user uuid, p_admin boolean,
                                                p_ttl integer, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r  record;
BEGIN
    SELECT a.id AS asset_id, v.id AS version_id, a.play_epoch AS epoch,
           mam_preview_can_play(v, j) AS playable
      INTO r
      FROM assets a
      JOIN versions v ON v.asset_id = a.id
      LEFT JOIN preview_jobs j ON j.id = v.preview_job_id
     WHERE a.id = p_asset AND a.deleted_at IS NULL
       AND (p_version IS NULL OR v.id = p_version)
       AND mam_project_rank(a.project_id, p_user, p_admin) > 0
     ORDER BY v.number DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF NOT r.playable THEN
        RETURN jsonb_build_object('outcome', 'not_ready'::mam_outcome);
    END IF;

    PERFORM mam_play_signed(r.asset_id);
    PERFORM mam_audit(p_user, 'play_sign', 'version', r.version_id::text,
                      p_ip, jsonb_build_object('asset_id', r.asset_id,
                                               'ttl_sec', p_ttl));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'asset_id', r.asset_id,
                              'version_id', r.version_id,
                              'epoch', r.epoch);
END
$$;

-- the fields of a stream entry for a job (pipeline.md, The job)
CREATE OR REPLACE FUNCTION mam_job_entry(j preview_jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'job_id', j.id, 'version_id', j.version_id, 'asset_id', v.asset_id,
        'master_key', v.master_key, 'attempt', j.attempts,
        'enqueued_at', mam_time(coalesce(j.enqueued_at, now())))
      FROM versions v WHERE v.id = j.version_id
$$;

-- A new queued job for a version, made its current one.  enqueued_at is
-- the moment the job is made, not the start of the transaction that makes
-- it (a promote that waited for a lock would otherwise look older than it
-- is when it commits).
CREATE OR REPLACE FUNCTION mam_job_new(p_version uuid, p_user uuid, p_ip text)
RETURNS preview_jobs LANGUAGE plpgsql AS $$
DECLARE
    j  preview_jobs;
BEGIN
    INSERT INTO preview_jobs (version_id, status, attempts, enqueued_at)
    VALUES (p_version, 'queued', 1, clock_timestamp())
    RETURNING * INTO j;

    UPDATE versions SET preview_job_id = j.id WHERE id = p_version;

    PERFORM mam_audit(p_user, 'preview_enqueue', 'version', p_version::text,
                      p_ip, jsonb_build_object('job_id', j.id));
    RETURN j;
END
$$;

-- POST /api/preview: the version (given, or the asset's latest) the caller
-- may change; idempotent as api.md says.
-- Outcomes: queued (new job: entry, event), existing, ready, not_found,
-- forbidden.
CREATE OR REPLACE FUNCTION mam_preview_request(p_version uuid, p_asset uuid,
                                               p_user uuid, p_admin boolean,
                                               p_force boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a       assets;
    v       versions;
    j       preview_jobs;
    v_rank  integer;
BEGIN
    SELECT * INTO v FROM versions
     WHERE (p_version IS NULL OR id = p_version)
       AND (p_asset IS NULL OR asset_id = p_asset)
     ORDER BY number DESC LIMIT 1
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;

    SELECT * INTO a FROM assets WHERE id = v.asset_id AND deleted_at IS NULL;
    v_rank := CASE WHEN FOUND THEN mam_project_rank(a.project_id, p_user,
                                                    p_admin)
                   ELSE 0 END;
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 4 AND NOT (v_rank = 3 AND a.user_id = p_user) THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    SELECT * INTO j FROM preview_jobs WHERE id = v.preview_job_id;

    IF FOUND AND j.status IN ('queued', 'processing') THEN
        RETURN jsonb_build_object('outcome', 'existing'::mam_outcome,
                                  'status', mam_preview_json(v));
    END IF;
    IF FOUND AND j.status = 'ready' AND NOT p_force THEN
        RETURN jsonb_build_object('outcome', 'ready'::mam_outcome,
                                  'status', mam_preview_json(v));
    END IF;

    j := mam_job_new(v.id, p_user, p_ip);
    SELECT * INTO v FROM versions WHERE id = v.id;

    RETURN jsonb_build_object('outcome', 'queued'::mam_outcome,
                              'status', mam_preview_json(v),
                              'entry', mam_job_entry(j),
                              'event', jsonb_build_object(
                                  'asset_id', v.asset_id,
                                  'project_id', a.project_id,
                                  'status', mam_preview_json(v)));
END
$$;

-- the XADD of a job went through: remember where its entry is
CREATE OR REPLACE FUNCTION mam_job_enqueued(p_job uuid, p_stream_id text)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE preview_jobs SET stream_id = p_stream_id WHERE id = p_job;
    SELECT jsonb_build_object('outcome', 'ok'::mam_outcome)
$$;

-- GET /api/preview/status and the first SSE event of an asset's stream,
-- for a caller who may see the asset (not_found otherwise).  projects:
-- the projects whose events the caller's streams carry (null for an
-- admin: all), read once when a stream opens (ngx_mam_events.c).
CREATE OR REPLACE FUNCTION mam_preview_status(p_version uuid, p_asset uuid,
                                              p_user uuid, p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('outcome', 'ok'::mam_outcome,
                                   'status', mam_preview_json(v))
           FROM versions v JOIN assets a ON a.id = v.asset_id
          WHERE a.deleted_at IS NULL
            AND (p_version IS NULL OR v.id = p_version)
            AND (p_asset IS NULL OR v.asset_id = p_asset)
            AND mam_project_rank(a.project_id, p_user, p_admin) > 0
          ORDER BY v.number DESC LIMIT 1),
        CASE WHEN p_asset IS NOT NULL AND EXISTS (
                  SELECT 1 FROM assets WHERE id = p_asset
                                         AND deleted_at IS NULL
                                         AND mam_project_rank(project_id,
                                                 p_user, p_admin) > 0)
             THEN jsonb_build_object('outcome', 'ok'::mam_outcome, 'status',
                  jsonb_build_object('version_id', NULL, 'job_id', NULL,
                                     'status', 'none', 'progress', 0,
                                     'error', NULL, 'renditions', '[]'::jsonb,
                                     'updated_at', NULL))
             WHEN p_version IS NULL AND p_asset IS NULL
             THEN jsonb_build_object('outcome', 'ok'::mam_outcome)
             ELSE jsonb_build_object('outcome', 'not_found'::mam_outcome) END)
    || jsonb_build_object('projects',
           CASE WHEN p_admin THEN NULL
                ELSE (SELECT coalesce(jsonb_agg(m.project_id), '[]')
                        FROM project_members m WHERE m.user_id = p_user) END)
$$;

-- POST /api/preview/callback.  The status only moves forward: queued <
-- processing < ready | failed; a late or duplicate callback is accepted
-- and ignored.  A job that is no longer its version's current one (a
-- forced re-run replaced it) is ignored too.  `playable` (processing
-- only; NULL leaves it) follows what transcoderd published while it
-- renders: true from the first segments, false when it withdrew them; a
-- ready job is playable, a failed one is not.
-- Outcomes: applied | ignored (both with event), unknown.
CREATE OR REPLACE FUNCTION mam_preview_callback(p_job uuid, p_version uuid,
                                                p_status text, p_progress real,
                                                p_metadata jsonb,
                                                p_renditions jsonb,
                                                p_error text, p_ip text,
                                                p_playable boolean
                                                    DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    j       preview_jobs;
    v       versions;
    v_rank  integer;
    v_new   integer;
    v_out   mam_outcome := 'applied'::mam_outcome;
    v_epochs jsonb := '[]';
BEGIN
    SELECT * INTO j FROM preview_jobs
     WHERE id = p_job AND version_id = p_version FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown'::mam_outcome);
    END IF;
    SELECT * INTO v FROM versions WHERE id = j.version_id FOR UPDATE;

    v_rank := CASE j.status WHEN 'queued' THEN 0 WHEN 'processing' THEN 1
                            ELSE 2 END;
    v_new := CASE p_status WHEN 'queued' THEN 0 WHEN 'processing' THEN 1
                           ELSE 2 END;

    IF v.preview_job_id IS DISTINCT FROM j.id OR v_new < v_rank
       OR (v_rank = 2) THEN
        v_out := 'ignored'::mam_outcome;
    ELSIF p_status = 'processing' THEN
        UPDATE preview_jobs
           SET status = 'processing',
               progress = greatest(progress, coalesce(p_progress, progress)),
               playable = coalesce(p_playable, playable),
               started_at = coalesce(started_at, now())
         WHERE id = j.id;
    ELSIF p_status = 'ready' THEN
        -- a forced re-run replaced a finished ladder: a new generation
        -- for the edge cache (030)
        IF v.preview_prefix IS NOT NULL THEN
            v_epochs := mam_play_republish(v.asset_id);
        END IF;
        UPDATE preview_jobs
           SET status = 'ready', progress = 1, error = NULL, playable = true,
               renditions = coalesce(p_renditions, '[]'::jsonb),
               started_at = coalesce(started_at, now()), finished_at = now()
         WHERE id = j.id;
        UPDATE versions SET metadata = coalesce(p_metadata, '{}'::jsonb),
                            preview_prefix = 'previews/' || asset_id || '/'
                                             || id || '/'
         WHERE id = v.id;
    ELSIF p_status = 'failed' THEN
        UPDATE preview_jobs
           SET status = 'failed', error = coalesce(p_error, 'failed'),
               playable = false,
               finished_at = now()
         WHERE id = j.id;
    ELSE
        v_out := 'ignored'::mam_outcome;
    END IF;

    -- progress-only updates are frequent; state changes and refusals are
    -- what an investigator needs
    IF v_out = 'ignored' OR p_status <> 'processing' OR v_rank = 0
       OR (p_playable IS NOT NULL AND p_playable IS DISTINCT FROM j.playable)
    THEN
        PERFORM mam_audit(NULL, 'preview_callback', 'job', j.id::text, p_ip,
                          jsonb_build_object('status', p_status,
                                             'outcome', v_out,
                                             'playable', p_playable,
                                             'version_id', v.id));
    END IF;

    -- what a progressive attempt published is withdrawn (a retry renders
    -- the same names again): a new generation too
    IF v_out = 'applied' AND j.playable
       AND (p_status = 'failed' OR p_playable IS FALSE) THEN
        v_epochs := mam_play_republish(v.asset_id);
    END IF;

    SELECT * INTO v FROM versions WHERE id = v.id;
    RETURN jsonb_build_object('outcome', v_out, 'epochs', v_epochs,
                              'event', jsonb_build_object(
                                  'asset_id', v.asset_id,
                                  'project_id', (SELECT project_id FROM assets
                                                  WHERE id = v.asset_id),
                                  'status', mam_preview_json(v)));
END
$$;

-- Reconciliation: jobs PostgreSQL says should be in flight, with whether
-- they made no progress for p_stall seconds (stalled) and whether they were
-- enqueued less than p_grace_ms milliseconds ago (fresh: their entry may
-- still be on its way, so they are left alone).
CREATE OR REPLACE FUNCTION mam_preview_active(p_stall integer,
                                              p_grace_ms integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job_id', j.id,
               'stalled', j.updated_at < now() - make_interval(secs => p_stall),
               'fresh', coalesce(j.enqueued_at > now() - make_interval(
                                     secs => p_grace_ms / 1000.0), false))
               ORDER BY j.created_at), '[]'::jsonb)
      FROM preview_jobs j JOIN versions v ON v.preview_job_id = j.id
     WHERE j.status IN ('queued', 'processing')
$$;

-- Reconciliation found no live entry for the job: a new attempt's entry.
-- Refused (gone) when the job finished meanwhile or was enqueued less than
-- p_grace_ms ago, so two reconcilers that looked at once (an old and a new
-- worker 0 during a reload) add one entry, not two.
CREATE OR REPLACE FUNCTION mam_job_requeue(p_job uuid, p_grace_ms integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    j  preview_jobs;
BEGIN
    UPDATE preview_jobs SET attempts = attempts + 1,
                            enqueued_at = clock_timestamp(), stream_id = NULL
     WHERE id = p_job AND status IN ('queued', 'processing')
       AND (enqueued_at IS NULL
            OR enqueued_at <= clock_timestamp()
                              - make_interval(secs => p_grace_ms / 1000.0))
    RETURNING * INTO j;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'gone'::mam_outcome);
    END IF;
    PERFORM mam_audit(NULL, 'preview_requeue', 'job', j.id::text, NULL,
                      jsonb_build_object('attempt', j.attempts));
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'entry', mam_job_entry(j));
END
$$;

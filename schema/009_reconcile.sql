-- 009: exactly one live stream entry per job.  Reconciliation now matches
-- entries by the job_id they carry, not by preview_jobs.stream_id (which a
-- promote records only after its XADD came back), and leaves a job alone
-- while it is younger than a grace period: between a promote's commit and
-- its XADD, PostgreSQL already has the job and the stream not yet its entry.

-- enqueued_at is the moment the job is made, not the start of the
-- transaction that makes it (a promote that waited for a lock would
-- otherwise look older than it is when it commits)
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

-- Reconciliation: jobs PostgreSQL says should be in flight, with whether
-- they made no progress for p_stall seconds (stalled) and whether they were
-- enqueued less than p_grace_ms milliseconds ago (fresh: their entry may
-- still be on its way, so they are left alone).
DROP FUNCTION mam_preview_active(integer);

CREATE FUNCTION mam_preview_active(p_stall integer, p_grace_ms integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
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
DROP FUNCTION mam_job_requeue(uuid);

CREATE FUNCTION mam_job_requeue(p_job uuid, p_grace_ms integer)
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
        RETURN jsonb_build_object('outcome', 'gone');
    END IF;
    PERFORM mam_audit(NULL, 'preview_requeue', 'job', j.id::text, NULL,
                      jsonb_build_object('attempt', j.attempts));
    RETURN jsonb_build_object('outcome', 'ok', 'entry', mam_job_entry(j));
END
$$;

-- 009: exactly one live stream entry per job.  Reconciliation now matches
-- entries by the job_id they carry, not by preview_jobs.stream_id (which a
-- promote records only after its XADD came back), and leaves a job alone
-- while it is younger than a grace period: between a promote's commit and
-- its XADD, PostgreSQL already has the job and the stream not yet its entry.
-- (mam_job_new, mam_preview_active, mam_job_requeue in
-- schema/functions/previews.sql.)

-- mam_preview_active and mam_job_requeue gained p_grace_ms, so the old
-- signatures go (IF EXISTS: as in 008, a fresh database never had them).
DROP FUNCTION IF EXISTS mam_preview_active(integer);
DROP FUNCTION IF EXISTS mam_job_requeue(uuid);

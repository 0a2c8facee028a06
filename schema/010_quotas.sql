-- 010: quotas (mam_user_quota, mam_uploads_pending).  Presign checks and
-- inserts in one call: a per-user advisory lock (only taken when a limit
-- applies) serializes a user's presigns, so two of them cannot both pass
-- on the same remaining space.  What a user holds is counted from uploads
-- alone: pending uploads not yet expired (their reserved size), complete
-- ones (in staging) and consumed ones (promoted: the master, which a soft
-- delete keeps).  Expired and terminated uploads count for nothing.
CREATE INDEX uploads_quota_idx ON uploads (user_id, status)
    INCLUDE (size, expires_at)
    WHERE status IN ('pending', 'complete', 'consumed');

-- mam_presign gained p_quota and p_pending (schema/functions/uploads.sql),
-- so the old signature goes (IF EXISTS: as in 008).
DROP FUNCTION IF EXISTS mam_presign(uuid, text, text, text, bigint, integer,
                                   text, boolean);

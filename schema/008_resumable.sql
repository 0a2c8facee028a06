-- 008: resumable uploads.  A resumable upload is the same record as a
-- single PUT (same staging key, size, owner and expiry) received in pieces:
-- tus 1.0 on local storage (the bytes so far in a partial file beside the
-- key), an S3 multipart upload on S3 (its UploadId kept here).  A client
-- may terminate one: 'terminated' is final, like 'expired'.  The functions
-- are in schema/functions/uploads.sql and housekeeping.sql.
ALTER TABLE uploads
    ADD COLUMN resumable     boolean NOT NULL DEFAULT false,
    ADD COLUMN s3_upload_id  text CHECK (length(s3_upload_id) <= 1024),
    ADD COLUMN part_size     bigint CHECK (part_size > 0);

ALTER TABLE uploads DROP CONSTRAINT uploads_status_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_status_check
    CHECK (status IN ('pending', 'complete', 'consumed', 'expired',
                      'terminated'));

-- mam_presign gained p_resumable (schema/functions/uploads.sql), so the
-- old signature goes.  IF EXISTS: a fresh database never had it, since the
-- functions are created after the migrations; only a database migrated
-- before they moved to schema/functions/ does.
DROP FUNCTION IF EXISTS mam_presign(uuid, text, text, text, bigint, integer,
                                   text);

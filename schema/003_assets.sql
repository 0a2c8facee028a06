-- 003: uploads, assets, versions, promote.  As in 002, each operation is
-- one function (one parameterized statement, one transaction, audited in
-- it) returning jsonb with an "outcome" the module maps to a status.
-- Permission decisions are made here too, from the caller's id and admin
-- flag, so a request costs one round trip.  The functions are in
-- schema/functions/ (assets.sql, uploads.sql, housekeeping.sql; mam_audit:
-- util.sql, mam_preview_json: previews.sql).

-- A promote in flight: written before the master file is created and
-- removed in the transaction that records the version, so a crash in
-- between leaves a row that housekeeping resolves from the file system
-- (file there: record the version; file absent: forget the intent).
CREATE TABLE promotions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id     uuid NOT NULL UNIQUE REFERENCES assets (id),
    upload_id    uuid REFERENCES uploads (id) ON DELETE SET NULL,
    number       integer NOT NULL CHECK (number >= 1),
    staging_key  text NOT NULL,
    master_key   text NOT NULL UNIQUE,
    size         bigint NOT NULL,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

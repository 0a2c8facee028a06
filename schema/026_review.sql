-- 026: the review workflow (issue 21): threads, edits, resolution, ranges
-- and drawings on comments; an approval status per version with its
-- history.  (025 is issue 20's.)

-- A reply names its thread's first comment (one level: the functions
-- refuse a reply to a reply); replies go with their thread.  A thread is
-- resolved on its first comment (resolved_by, resolved_at; reopened: both
-- NULL).  edited_at: when its author last changed the content.  A range
-- comment covers duration_sec from timestamp_sec (and duration_frames
-- frames from frame, the client's as frame is, never derived).
-- annotation: the drawing, in the canonical form the module writes
-- (libmam/mam_annotation.c); bounded here too, should another writer come.
ALTER TABLE comments
    ADD COLUMN parent_id uuid REFERENCES comments (id) ON DELETE CASCADE,
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN duration_sec numeric(12, 3)
        CONSTRAINT comments_duration_range CHECK (duration_sec >= 0),
    ADD COLUMN duration_frames integer
        CONSTRAINT comments_duration_frames_range
        CHECK (duration_frames BETWEEN 0 AND 999999999),
    ADD COLUMN annotation jsonb
        CONSTRAINT comments_annotation_shape
        CHECK (jsonb_typeof(annotation) = 'object'
               AND octet_length(annotation::text) <= 65536),
    ADD CONSTRAINT comments_duration_frames_needs_sec
        CHECK (duration_frames IS NULL OR duration_sec IS NOT NULL),
    ADD CONSTRAINT comments_resolved_pair
        CHECK (resolved_by IS NULL OR resolved_at IS NOT NULL);

-- The list pages threads: first comments in keyset order (011's order),
-- each followed by its replies in the order they came.  The old index of
-- every comment served only that list.
DROP INDEX IF EXISTS idx_comments_asset_id;
CREATE INDEX comments_threads_idx
    ON comments (asset_id, timestamp_sec, created_at, id)
    WHERE parent_id IS NULL;
CREATE INDEX comments_replies_idx
    ON comments (parent_id, created_at, id)
    WHERE parent_id IS NOT NULL;

-- A version's approval: its current status on the row (what its item and
-- its asset's item show, and the asset list's filter), every decision in
-- version_approvals (who, when, the note), newest first.
ALTER TABLE versions
    ADD COLUMN approval text NOT NULL DEFAULT 'none'
        CONSTRAINT versions_approval_status
        CHECK (approval IN ('none', 'in_review', 'changes_requested',
                            'approved')),
    ADD COLUMN approval_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN approval_note text,
    ADD COLUMN approval_at timestamptz;

CREATE TABLE version_approvals (
    id          bigserial PRIMARY KEY,
    version_id  uuid NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    status      text NOT NULL
        CONSTRAINT version_approvals_status
        CHECK (status IN ('none', 'in_review', 'changes_requested',
                          'approved')),
    note        text CONSTRAINT version_approvals_note
                CHECK (length(note) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX version_approvals_version_idx
    ON version_approvals (version_id, created_at DESC, id DESC);

-- mam_comment_create (schema/functions/comments.sql) takes the new
-- fields: its old signature goes rather than stay as an overload.
DROP FUNCTION IF EXISTS mam_comment_create(uuid, uuid, boolean, numeric, text,
                                           uuid, text, integer);

-- Every comment's, version's and asset's item gains the new fields (and
-- an asset's facets its approval): the items are emptied here with the
-- triggers off (the functions of the previous run would write the old
-- shape again), and items.sql's last statements rebuild every NULL item
-- with the new functions, versions before assets.
ALTER TABLE comments DISABLE TRIGGER USER;
UPDATE comments SET item = NULL;
ALTER TABLE comments ENABLE TRIGGER USER;
ALTER TABLE versions DISABLE TRIGGER USER;
UPDATE versions SET item = NULL;
ALTER TABLE versions ENABLE TRIGGER USER;
ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;

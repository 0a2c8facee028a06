-- 027: notifications and @mentions (issue 21).  (026 is the review's.)
--
-- A notification is one user's news of another's act on an asset they
-- may see: a mention of them in a comment, a reply to their thread, a
-- change of the approval of their asset's version, a new version of an
-- asset they commented on.  The rows are written by the SQL function of
-- the act itself (schema/functions/notifications.sql, called from
-- comments.sql, approvals.sql and assets.sql), so an act and its
-- notifications commit together or not at all.  Nothing is copied that
-- can change: the answer is built when it is read, and only while the
-- recipient may still see the asset (a live asset of a project they are a
-- member of, or any for an admin).
CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL
        CONSTRAINT notifications_kind
        CHECK (kind IN ('mention', 'reply', 'approval', 'version')),
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    version_id  uuid REFERENCES versions (id) ON DELETE CASCADE,
    -- a deleted comment takes the news of it along
    comment_id  uuid REFERENCES comments (id) ON DELETE CASCADE,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- an approval's new status
    status      text
        CONSTRAINT notifications_status
        CHECK (status IN ('none', 'in_review', 'changes_requested',
                          'approved')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    CONSTRAINT notifications_not_own CHECK (actor_id IS DISTINCT FROM user_id)
);

-- the list, newest first, a keyset page at a time, and its unread filter
-- (the same order over the unread rows only, which also gives the count)
CREATE INDEX notifications_user_idx
    ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx
    ON notifications (user_id, created_at DESC, id DESC)
    WHERE read_at IS NULL;

-- @mentions name a member by display name, in any case: a mention's
-- candidates are found by equality on the lowered name
CREATE INDEX users_display_name_lower_idx ON users (lower(display_name));

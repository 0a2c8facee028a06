-- 029: review links (issue 22).  A member shares assets (or a folder)
-- with people without an account: a link /r/{token}, of which only the
-- SHA-256 of the token is kept (the token itself is shown once, at
-- creation, and never stored or logged).  A guest who opens it (with its
-- passphrase, if it has one) gives a name and gets a session of that link
-- alone; guests comment and approve when the link allows it.  Comments
-- gain `internal` (members only: never shown to a guest) and a guest
-- author; approvals a guest decider.  (027, 028, 030, 031 are other
-- features'.)

-- A link shows either a set of assets (asset_ids) or the live assets of a
-- folder at the time it is opened (folder_id; a deleted folder leaves a
-- link that shows nothing).  version_id pins one version (a link to one
-- asset); NULL is the latest.  passphrase_hash: Argon2id (encoded), NULL
-- without a passphrase.  revoked_at: the link answers 410 from then on.
CREATE TABLE shares (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         uuid NOT NULL REFERENCES projects (id)
                       ON DELETE CASCADE,
    created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    token_hash         text NOT NULL UNIQUE
        CONSTRAINT shares_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    asset_ids          uuid[]
        CONSTRAINT shares_asset_ids
        CHECK (cardinality(asset_ids) BETWEEN 1 AND 100),
    folder_id          uuid REFERENCES folders (id) ON DELETE SET NULL,
    version_id         uuid REFERENCES versions (id) ON DELETE CASCADE,
    expires_at         timestamptz,
    passphrase_hash    text
        CONSTRAINT shares_passphrase_hash
        CHECK (length(passphrase_hash) BETWEEN 1 AND 128),
    allow_comments     boolean NOT NULL DEFAULT false,
    allow_download     boolean NOT NULL DEFAULT false,
    allow_approval     boolean NOT NULL DEFAULT false,
    show_all_versions  boolean NOT NULL DEFAULT false,
    revoked_at         timestamptz,
    view_count         bigint NOT NULL DEFAULT 0,
    last_view_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shares_one_target CHECK (asset_ids IS NULL OR folder_id IS NULL)
);
-- a project's links, newest first (GET /api/shares?project=, keyset)
CREATE INDEX shares_project_idx ON shares (project_id, created_at DESC, id DESC);

-- A guest of a link: the name (and e-mail) they gave, their session (the
-- SHA-256 of the cookie's random value), their activity.
CREATE TABLE share_guests (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    share_id        uuid NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    name            text NOT NULL
        CONSTRAINT share_guests_name CHECK (length(name) BETWEEN 1 AND 100),
    email           text
        CONSTRAINT share_guests_email CHECK (length(email) BETWEEN 3 AND 254),
    session_hash    text NOT NULL UNIQUE
        CONSTRAINT share_guests_session_hash
        CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    views           integer NOT NULL DEFAULT 0,
    comments        integer NOT NULL DEFAULT 0,
    approvals       integer NOT NULL DEFAULT 0
);
CREATE INDEX share_guests_share_idx
    ON share_guests (share_id, last_seen_at DESC, id);

-- A comment is a member's (user_id) or a guest's (guest_id; a guest row
-- that goes with its link leaves the comment without an author, as the
-- audit log keeps what happened).  internal: members only, never shown
-- to a guest (a reply to an internal thread is internal too).  Every
-- existing read of comments is a member's, who sees them all.
ALTER TABLE comments
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN guest_id uuid REFERENCES share_guests (id) ON DELETE SET NULL,
    ADD COLUMN internal boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT comments_one_author
        CHECK (user_id IS NULL OR guest_id IS NULL);

-- a guest's decision on a version, as a member's (approval_by, user_id)
ALTER TABLE versions
    ADD COLUMN approval_guest uuid REFERENCES share_guests (id)
        ON DELETE SET NULL;
ALTER TABLE version_approvals
    ADD COLUMN guest_id uuid REFERENCES share_guests (id) ON DELETE SET NULL;

-- mam_comment_create gains internal; the old signature goes
DROP FUNCTION IF EXISTS mam_comment_create(uuid, uuid, boolean, numeric, text,
                                           uuid, text, integer, uuid, numeric,
                                           integer, jsonb);

-- the comment, version and asset items gain the new fields (internal,
-- guest): emptied with the triggers off and rebuilt by items.sql, as 026
ALTER TABLE comments DISABLE TRIGGER USER;
UPDATE comments SET item = NULL;
ALTER TABLE comments ENABLE TRIGGER USER;
ALTER TABLE versions DISABLE TRIGGER USER;
UPDATE versions SET item = NULL;
ALTER TABLE versions ENABLE TRIGGER USER;
ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;

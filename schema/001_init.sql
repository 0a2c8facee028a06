-- 001: every table of the seed (users, assets, versions, comments, sessions,
-- roles, user_roles, with its indexes) plus what the spec adds: uploads,
-- preview job state, audit_log and full-text search on assets.
-- Ids are uuid (gen_random_uuid is core since PostgreSQL 13); times are
-- timestamptz; enums are text with CHECK constraints, so adding a value
-- later is one ALTER.
-- The updated_at triggers of users, assets and preview_jobs and their
-- function are in schema/functions/util.sql (applied after the migrations).

-- Accounts.  Emails are unique case-insensitively (api.md: 409 on
-- register); authz_version is bumped on every role or status change so
-- outstanding access tokens (claim `av`) stop working at once.
CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash  text NOT NULL,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active', 'disabled')),
    authz_version  integer NOT NULL DEFAULT 1 CHECK (authz_version >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Roles are data, not code, so an admin tool can list them; the three the
-- API knows are seeded below.
CREATE TABLE roles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE,
    permissions  jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE user_roles (
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id  uuid NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_id)
);

-- Refresh-token sessions.  Only a hash of the token is stored.  Rotation
-- links each token to its parent and successor (parent_jti /
-- replaced_by_jti); family_id groups one login's chain, so presenting a
-- rotated token revokes the whole family.
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id           uuid NOT NULL,
    jti                 text NOT NULL,
    refresh_token_hash  text NOT NULL UNIQUE,
    parent_jti          text,
    replaced_by_jti     text,
    user_agent          text,
    ip                  text,
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoked_reason      text,
    last_used_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE UNIQUE INDEX idx_sessions_jti ON sessions (jti);
CREATE INDEX sessions_family_idx ON sessions (family_id);

-- Presigned uploads: POST /api/assets accepts only the caller's own
-- complete upload, and housekeeping finds stale staging objects here.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    staging_key   text NOT NULL UNIQUE,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size          bigint NOT NULL CHECK (size > 0),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'complete', 'consumed', 'expired')),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX uploads_user_idx ON uploads (user_id);
CREATE INDEX uploads_housekeeping_idx ON uploads (status, created_at);

-- Assets.  Soft delete (deleted_at) keeps masters' records forever.
-- `search` is the full-text vector over title and description, with the
-- 'simple' configuration so prefix matching works in any language.
-- version_count makes version numbers gapless: promote increments it in
-- the same transaction that inserts the version.
CREATE TABLE assets (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    staging_key    text,
    upload_id      uuid REFERENCES uploads (id) ON DELETE SET NULL,
    version_count  integer NOT NULL DEFAULT 0 CHECK (version_count >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    search         tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('simple', title), 'A')
                       || setweight(to_tsvector('simple', description), 'B')
                   ) STORED
);
CREATE INDEX idx_assets_user_id ON assets (user_id);
CREATE INDEX idx_assets_created_at ON assets (created_at);
CREATE INDEX assets_search_idx ON assets USING gin (search);
-- keyset pagination for the list's sorts, live assets only
CREATE INDEX assets_live_created_idx ON assets (created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX assets_live_title_idx ON assets (title, id)
    WHERE deleted_at IS NULL;

-- Versions: one immutable master each (write-once key), numbered 1, 2, ...
-- per asset.  metadata is what the transcoder extracted ({} before).
CREATE TABLE versions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id        uuid NOT NULL REFERENCES assets (id) ON DELETE RESTRICT,
    number          integer NOT NULL CHECK (number >= 1),
    master_key      text NOT NULL UNIQUE,
    size            bigint NOT NULL CHECK (size >= 0),
    preview_prefix  text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    preview_job_id  uuid,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (asset_id, number)
);
CREATE INDEX idx_versions_asset_id ON versions (asset_id);

-- Preview jobs: PostgreSQL holds the job's state, the Redis stream only
-- carries it, so a job lost from Redis is found here and re-enqueued.
-- A version's preview status is that of its current job
-- (versions.preview_job_id), or `none` without one.
CREATE TABLE preview_jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version_id   uuid NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    progress     real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error        text,
    renditions   jsonb NOT NULL DEFAULT '[]',
    stream_id    text,
    enqueued_at  timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX preview_jobs_version_idx ON preview_jobs (version_id, created_at);
-- what reconciliation scans: jobs that should be in flight
CREATE INDEX preview_jobs_active_idx ON preview_jobs (updated_at)
    WHERE status IN ('queued', 'processing');

ALTER TABLE versions ADD CONSTRAINT versions_preview_job_fk
    FOREIGN KEY (preview_job_id) REFERENCES preview_jobs (id)
    ON DELETE SET NULL;

-- Time-coded comments, listed by timestamp_sec then created_at.
CREATE TABLE comments (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    version_id     uuid REFERENCES versions (id) ON DELETE SET NULL,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    timestamp_sec  numeric(12, 3) NOT NULL CHECK (timestamp_sec >= 0),
    content        text NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_comments_asset_id ON comments (asset_id, timestamp_sec, created_at);

-- Every state change, for people investigating what happened.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    action       text NOT NULL,
    target_type  text,
    target_id    text,
    ip           inet,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at);

INSERT INTO roles (name, permissions) VALUES
    ('viewer', '["assets:read", "comments:write"]'),
    ('editor', '["assets:read", "comments:write", "assets:write", "uploads:write", "previews:write"]'),
    ('admin',  '["*"]')
ON CONFLICT (name) DO NOTHING;

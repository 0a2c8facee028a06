-- 016: projects (issue 19).  Every asset belongs to one project; a user
-- sees an asset when they are a member of its project (admins see all).
-- A member has a project role (viewer < commenter < editor < manager) and
-- may download originals and renditions only with can_download.
--
-- Nothing disappears at upgrade: the existing assets move into the
-- default project, whose members are all current users (admins as
-- managers, editors as editors, viewers as commenters: what each could do
-- before).  New accounts join the default project too
-- (mam_register()), so an instance that never makes a second project
-- behaves as before.

CREATE TABLE projects (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    is_default   boolean NOT NULL DEFAULT false,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- at most one default project
CREATE UNIQUE INDEX projects_default_key ON projects (is_default)
    WHERE is_default;

CREATE TABLE project_members (
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL
                  CHECK (role IN ('viewer', 'commenter', 'editor', 'manager')),
    can_download  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
-- "the projects I am a member of": the first step of every scoped read
CREATE INDEX project_members_user_idx ON project_members (user_id, project_id);

INSERT INTO projects (name, description, is_default)
VALUES ('Default', 'The assets of the instance before projects', true);

INSERT INTO project_members (project_id, user_id, role)
SELECT p.id, u.id,
       CASE WHEN EXISTS (SELECT 1 FROM user_roles ur
                           JOIN roles r ON r.id = ur.role_id
                          WHERE ur.user_id = u.id AND r.name = 'admin')
            THEN 'manager'
            WHEN EXISTS (SELECT 1 FROM user_roles ur
                           JOIN roles r ON r.id = ur.role_id
                          WHERE ur.user_id = u.id AND r.name = 'editor')
            THEN 'editor'
            ELSE 'commenter' END
  FROM projects p CROSS JOIN users u
 WHERE p.is_default;

-- The items (014) show the project: the backfill leaves them NULL for
-- schema/functions/items.sql to write with the new mam_asset_json() once
-- the functions are applied (the triggers of an upgraded database would
-- write them with the old one; a fresh database has none yet).
ALTER TABLE assets ADD COLUMN project_id uuid REFERENCES projects (id);
ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET project_id = (SELECT id FROM projects WHERE is_default),
                  item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;
ALTER TABLE assets ALTER COLUMN project_id SET NOT NULL;

-- "the live assets of one project in each sort": the scoped list reads
-- the first page of each of the caller's projects from these and merges
-- them (ngx_mam_sql.h)
CREATE INDEX assets_project_created_idx ON assets (project_id, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX assets_project_title_idx ON assets (project_id, title, id)
    WHERE deleted_at IS NULL;

-- the functions that gained the caller (scoping) or the project
DROP FUNCTION IF EXISTS mam_asset_create(uuid, text, text, text, text);
DROP FUNCTION IF EXISTS mam_asset_update(uuid, uuid, boolean, text, text,
                                         text, text);
DROP FUNCTION IF EXISTS mam_comment_create(uuid, uuid, numeric, text, uuid,
                                           text);
DROP FUNCTION IF EXISTS mam_preview_status(uuid, uuid);
DROP FUNCTION IF EXISTS mam_preview_playable(uuid, uuid);

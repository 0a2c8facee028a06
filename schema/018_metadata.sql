-- 018: folders, custom fields and tags (issue 19).
--
-- A project holds a tree of folders; an asset is in at most one folder of
-- its own project (NULL: the project's root).  A project's managers define
-- its custom fields; an asset's values are in assets.fields, an object
-- keyed by the field's name, and its free tags in assets.tags.  The
-- functions that write them (schema/functions/folders.sql, fields.sql)
-- check every value against its field's definition; the CHECKs here only
-- bound what a row can hold.

CREATE TABLE folders (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    parent_id   uuid REFERENCES folders (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
-- one name per parent (case-insensitive), the root's included
CREATE UNIQUE INDEX folders_name_key
    ON folders (project_id, coalesce(parent_id, project_id), lower(name));
CREATE INDEX folders_parent_idx ON folders (parent_id);

CREATE TABLE project_fields (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    label       text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('text', 'number', 'date',
                                              'choice', 'multi_choice',
                                              'tags')),
    choices     text[] NOT NULL DEFAULT '{}'
                CHECK (cardinality(choices) <= 200),
    position    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- The new columns are in the asset's item: the backfill leaves the items
-- NULL for schema/functions/items.sql to write with the new
-- mam_asset_json() (as 016 did).
ALTER TABLE assets
    ADD COLUMN folder_id uuid REFERENCES folders (id) ON DELETE SET NULL,
    ADD COLUMN fields jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(fields) = 'object'),
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(tags) <= 50);
CREATE INDEX assets_folder_idx ON assets (folder_id) WHERE folder_id IS NOT NULL;

ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;

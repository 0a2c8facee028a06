-- Folders (018, 021): a tree inside a project.  Members see the tree;
-- editors and managers of the project (and admins) change it.  A folder
-- of a project the caller is no member of does not exist for them
-- (not_found, never forbidden), as the project does not.  A project holds
-- at most mam_folder_max() folders, nested at most mam_folder_depth()
-- deep (a folder at the root is at depth 1): a tree the SPA draws whole
-- and a walk up or down it stay bounded.  Every change of a project's
-- tree locks the project's row first, so two changes of one tree (a move
-- each, or a create past the bound) are serialized and cannot together
-- make a cycle or go past a bound that each checked alone.

CREATE OR REPLACE FUNCTION mam_folder_max() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 1000 $$;

CREATE OR REPLACE FUNCTION mam_folder_depth() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 32 $$;

-- the `folder` object
CREATE OR REPLACE FUNCTION mam_folder_json(f folders) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', f.id, 'project_id', f.project_id, 'parent_id', f.parent_id,
        'name', f.name,
        'created_at', mam_time(f.created_at),
        'updated_at', mam_time(f.updated_at))
$$;

-- a folder's depth: 1 at the project's root (the walk up is bounded by
-- the depth bound, which every write keeps)
CREATE OR REPLACE FUNCTION mam_folder_level(p_id uuid) RETURNS integer
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up (id, parent_id, n) AS (
        SELECT id, parent_id, 1 FROM folders WHERE id = p_id
        UNION ALL
        SELECT f.id, f.parent_id, up.n + 1
          FROM folders f JOIN up ON f.id = up.parent_id
         WHERE up.n <= mam_folder_depth())
    SELECT coalesce(max(n), 0) FROM up
$$;

-- the folder and every folder under it, with their depth below it (the
-- folder itself: 1)
CREATE OR REPLACE FUNCTION mam_folder_subtree(p_id uuid)
RETURNS TABLE (id uuid, n integer) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE down (id, n) AS (
        SELECT p_id, 1
        UNION ALL
        SELECT f.id, down.n + 1
          FROM folders f JOIN down ON f.parent_id = down.id
         WHERE down.n <= mam_folder_depth())
    SELECT id, n FROM down
$$;

-- The folder p_id of a project the caller may change folders in, its
-- project locked.  Outcomes: ok (project_id), not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_folder_for_change(p_id uuid, p_user uuid,
                                                 p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    v_project  uuid;
BEGIN
    SELECT project_id INTO v_project FROM folders WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    c := mam_project_locked(v_project, p_user, p_admin, 3);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    -- deleted while the lock was awaited? (a folder never changes project)
    PERFORM 1 FROM folders WHERE id = p_id AND project_id = v_project;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'project_id', v_project);
END
$$;

-- A folder given by a client for the project p_project: '' or NULL is the
-- root (NULL), anything else must be a folder of that project.
-- Outcomes: ok (folder_id, maybe null), unknown.
CREATE OR REPLACE FUNCTION mam_folder_in(p_folder text, p_project uuid)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id  uuid;
BEGIN
    IF coalesce(p_folder, '') = '' THEN
        RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                                  'folder_id', NULL);
    END IF;
    SELECT id INTO v_id FROM folders
     WHERE id = p_folder::uuid AND project_id = p_project;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'folder_id', v_id);
END
$$;

-- GET /api/projects/:id/folders: the whole tree, flat, by name.
-- Outcomes: ok (items), not_found.
CREATE OR REPLACE FUNCTION mam_folder_list(p_project uuid, p_user uuid,
                                           p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN mam_project_rank(p_project, p_user, p_admin) = 0
        THEN jsonb_build_object('outcome', 'not_found'::mam_outcome)
        ELSE jsonb_build_object('outcome', 'ok'::mam_outcome,
            'items', (SELECT coalesce(jsonb_agg(mam_folder_json(f)
                                        ORDER BY lower(f.name), f.name, f.id),
                                      '[]')
                        FROM folders f WHERE f.project_id = p_project))
        END
$$;

-- POST /api/projects/:id/folders {name, parent_id?} (editors, managers,
-- admins).  Outcomes: ok (folder), not_found, forbidden, unknown (no such
-- parent in the project), beyond (the project's folder count), too_deep,
-- taken (the name among the siblings).
CREATE OR REPLACE FUNCTION mam_folder_create(p_project uuid, p_user uuid,
                                             p_admin boolean, p_name text,
                                             p_parent text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c         jsonb;
    f         folders;
    v_parent  uuid;
BEGIN
    c := mam_project_locked(p_project, p_user, p_admin, 3);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    c := mam_folder_in(p_parent, p_project);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    v_parent := (c->>'folder_id')::uuid;

    IF (SELECT count(*) FROM folders WHERE project_id = p_project)
       >= mam_folder_max() THEN
        RETURN jsonb_build_object('outcome', 'beyond'::mam_outcome,
                                  'max', mam_folder_max());
    END IF;
    IF v_parent IS NOT NULL
       AND mam_folder_level(v_parent) >= mam_folder_depth() THEN
        RETURN jsonb_build_object('outcome', 'too_deep'::mam_outcome,
                                  'max', mam_folder_depth());
    END IF;

    BEGIN
        INSERT INTO folders (project_id, parent_id, name)
        VALUES (p_project, v_parent, btrim(p_name))
        RETURNING * INTO f;
    EXCEPTION WHEN unique_violation THEN
        RETURN jsonb_build_object('outcome', 'taken'::mam_outcome);
    END;

    PERFORM mam_audit(p_user, 'folder_create', 'folder', f.id::text, p_ip,
                      jsonb_build_object('project_id', p_project,
                                         'parent_id', f.parent_id,
                                         'name', f.name));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'folder', mam_folder_json(f));
END
$$;

-- PATCH /api/folders/:id {name?, parent_id?}: a rename, a move (p_parent
-- NULL: stays; '': to the root), or both.  Outcomes: ok (folder),
-- not_found, forbidden, unknown (no such parent in the project), invalid
-- (into itself or a folder under it), too_deep, taken.
CREATE OR REPLACE FUNCTION mam_folder_update(p_id uuid, p_user uuid,
                                             p_admin boolean, p_name text,
                                             p_parent text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    f          folders;
    v_old      folders;
    v_parent   uuid;
BEGIN
    c := mam_folder_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM folders WHERE id = p_id;
    v_parent := v_old.parent_id;

    IF p_parent IS NOT NULL THEN
        c := mam_folder_in(p_parent, v_old.project_id);
        IF c->>'outcome' <> 'ok' THEN
            RETURN c;
        END IF;
        v_parent := (c->>'folder_id')::uuid;
    END IF;

    IF v_parent IS DISTINCT FROM v_old.parent_id AND v_parent IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM mam_folder_subtree(p_id) s
                    WHERE s.id = v_parent) THEN
            RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
        END IF;
        -- the parent's depth plus the moved subtree's height
        IF mam_folder_level(v_parent)
           + (SELECT max(s.n) FROM mam_folder_subtree(p_id) s)
           > mam_folder_depth() THEN
            RETURN jsonb_build_object('outcome', 'too_deep'::mam_outcome,
                                      'max', mam_folder_depth());
        END IF;
    END IF;

    BEGIN
        UPDATE folders SET name = coalesce(btrim(p_name), name),
                           parent_id = v_parent,
                           updated_at = now()
         WHERE id = p_id
        RETURNING * INTO f;
    EXCEPTION WHEN unique_violation THEN
        RETURN jsonb_build_object('outcome', 'taken'::mam_outcome);
    END;

    PERFORM mam_audit(p_user, 'folder_update', 'folder', p_id::text, p_ip,
        jsonb_build_object('project_id', f.project_id,
                           'before', jsonb_build_object(
                               'name', v_old.name,
                               'parent_id', v_old.parent_id),
                           'after', jsonb_build_object(
                               'name', f.name,
                               'parent_id', f.parent_id)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'folder', mam_folder_json(f));
END
$$;

-- DELETE /api/folders/:id: an empty folder only (conflict while it holds
-- a folder or a live asset; its soft-deleted assets go to the root).
-- Outcomes: ok, not_found, forbidden, conflict.
CREATE OR REPLACE FUNCTION mam_folder_delete(p_id uuid, p_user uuid,
                                             p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    f  folders;
BEGIN
    c := mam_folder_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO f FROM folders WHERE id = p_id;

    IF EXISTS (SELECT 1 FROM folders WHERE parent_id = p_id)
       OR EXISTS (SELECT 1 FROM assets
                   WHERE folder_id = p_id AND deleted_at IS NULL) THEN
        RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome);
    END IF;

    DELETE FROM folders WHERE id = p_id;

    PERFORM mam_audit(p_user, 'folder_delete', 'folder', p_id::text, p_ip,
                      jsonb_build_object('project_id', f.project_id,
                                         'parent_id', f.parent_id,
                                         'name', f.name));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

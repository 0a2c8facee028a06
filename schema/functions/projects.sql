-- Projects and their members (016).  A caller's rights on an asset come
-- from their role in its project: mam_project_rank() is the one place
-- that says so (admins rank as managers everywhere).  A non-member ranks
-- 0 and is answered not_found, never forbidden: the asset's (or the
-- project's) existence is not revealed.  The scoped reads in the module
-- (ngx_mam_sql.h) test membership themselves, in the same terms.

-- viewer 1 < commenter 2 < editor 3 < manager 4; anything else 0
CREATE OR REPLACE FUNCTION mam_role_rank(p_role text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_role WHEN 'viewer' THEN 1 WHEN 'commenter' THEN 2
                       WHEN 'editor' THEN 3 WHEN 'manager' THEN 4
                       ELSE 0 END
$$;

-- the caller's rank in a project: 4 for an admin, 0 for a non-member
CREATE OR REPLACE FUNCTION mam_project_rank(p_project uuid, p_user uuid,
                                            p_admin boolean) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_admin AND EXISTS (SELECT 1 FROM projects
                                          WHERE id = p_project)
                THEN 4
                ELSE coalesce((SELECT mam_role_rank(m.role)
                                 FROM project_members m
                                WHERE m.project_id = p_project
                                  AND m.user_id = p_user), 0) END
$$;

-- whether the caller may download from a project's assets
CREATE OR REPLACE FUNCTION mam_project_may_download(p_project uuid,
                                                    p_user uuid,
                                                    p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_admin OR coalesce((SELECT m.can_download FROM project_members m
                                 WHERE m.project_id = p_project
                                   AND m.user_id = p_user), false)
$$;

-- the `project` object
CREATE OR REPLACE FUNCTION mam_project_json(p projects, p_user uuid)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id, 'name', p.name, 'description', p.description,
        'default', p.is_default,
        'my_role', (SELECT m.role FROM project_members m
                     WHERE m.project_id = p.id AND m.user_id = p_user),
        'my_can_download', coalesce((SELECT m.can_download
                                       FROM project_members m
                                      WHERE m.project_id = p.id
                                        AND m.user_id = p_user), false),
        'created_at', mam_time(p.created_at),
        'updated_at', mam_time(p.updated_at))
$$;

-- the `member` object
CREATE OR REPLACE FUNCTION mam_member_json(m project_members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'user', (SELECT jsonb_build_object('id', u.id, 'email', u.email,
                                           'display_name', u.display_name)
                   FROM users u WHERE u.id = m.user_id),
        'role', m.role, 'can_download', m.can_download,
        'created_at', mam_time(m.created_at))
$$;

-- POST /api/projects (instance editors and admins, by the route): the
-- creator becomes its manager, with downloads.
CREATE OR REPLACE FUNCTION mam_project_create(p_user uuid, p_name text,
                                              p_desc text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    p  projects;
BEGIN
    INSERT INTO projects (name, description, created_by)
    VALUES (p_name, coalesce(p_desc, ''), p_user)
    RETURNING * INTO p;

    INSERT INTO project_members (project_id, user_id, role, can_download)
    VALUES (p.id, p_user, 'manager', true);

    PERFORM mam_audit(p_user, 'project_create', 'project', p.id::text, p_ip,
                      jsonb_build_object('name', p.name));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'project', mam_project_json(p, p_user));
END
$$;

-- GET /api/projects: the caller's projects (every project for an admin)
CREATE OR REPLACE FUNCTION mam_project_list(p_user uuid, p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('outcome', 'ok'::mam_outcome,
        'items', coalesce(jsonb_agg(mam_project_json(p, p_user)
                                    ORDER BY p.name, p.id), '[]'))
      FROM projects p
     WHERE p_admin OR EXISTS (SELECT 1 FROM project_members m
                               WHERE m.project_id = p.id
                                 AND m.user_id = p_user)
$$;

-- GET /api/projects/:id: the project and its members, for its members.
-- Outcomes: ok, not_found.
CREATE OR REPLACE FUNCTION mam_project_get(p_id uuid, p_user uuid,
                                           p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('outcome', 'ok'::mam_outcome,
                    'project', mam_project_json(p, p_user),
                    'members', (SELECT coalesce(jsonb_agg(mam_member_json(m)
                                    ORDER BY m.created_at, m.user_id), '[]')
                                  FROM project_members m
                                 WHERE m.project_id = p.id))
           FROM projects p
          WHERE p.id = p_id AND mam_project_rank(p.id, p_user, p_admin) > 0),
        jsonb_build_object('outcome', 'not_found'::mam_outcome))
$$;

-- The project p_id locked for a change by a member of rank p_rank or
-- above (or an admin).  Outcomes: ok, not_found (not a member), forbidden
-- (below p_rank).
CREATE OR REPLACE FUNCTION mam_project_locked(p_id uuid, p_user uuid,
                                              p_admin boolean,
                                              p_rank integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_rank  integer;
BEGIN
    PERFORM 1 FROM projects WHERE id = p_id FOR UPDATE;
    v_rank := mam_project_rank(p_id, p_user, p_admin);
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < p_rank THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- The project p_id locked for a change by a manager (or an admin).
CREATE OR REPLACE FUNCTION mam_project_for_change(p_id uuid, p_user uuid,
                                                  p_admin boolean)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT mam_project_locked(p_id, p_user, p_admin, 4)
$$;

-- PATCH /api/projects/:id {name?, description?} (managers, admins)
CREATE OR REPLACE FUNCTION mam_project_update(p_id uuid, p_user uuid,
                                              p_admin boolean, p_name text,
                                              p_desc text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c      jsonb;
    p      projects;
    v_old  projects;
BEGIN
    c := mam_project_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM projects WHERE id = p_id;

    UPDATE projects SET name = coalesce(p_name, name),
                        description = coalesce(p_desc, description),
                        updated_at = now()
     WHERE id = p_id
    RETURNING * INTO p;

    PERFORM mam_audit(p_user, 'project_update', 'project', p_id::text, p_ip,
        jsonb_build_object('before', jsonb_build_object(
                               'name', v_old.name,
                               'description', v_old.description),
                           'after', jsonb_build_object(
                               'name', p.name,
                               'description', p.description)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'project', mam_project_json(p, p_user));
END
$$;

-- DELETE /api/projects/:id (managers, admins): only an empty project (409
-- while it holds a live asset), never the default one (409).  Its deleted
-- assets, hidden anyway, are kept under the default project.
-- Outcomes: ok, not_found, forbidden, conflict.
CREATE OR REPLACE FUNCTION mam_project_delete(p_id uuid, p_user uuid,
                                              p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    p  projects;
BEGIN
    c := mam_project_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO p FROM projects WHERE id = p_id;

    IF p.is_default OR EXISTS (SELECT 1 FROM assets
                                WHERE project_id = p_id
                                  AND deleted_at IS NULL) THEN
        RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome);
    END IF;

    UPDATE assets SET project_id = (SELECT id FROM projects WHERE is_default)
     WHERE project_id = p_id;
    DELETE FROM projects WHERE id = p_id;

    PERFORM mam_audit(p_user, 'project_delete', 'project', p_id::text, p_ip,
                      jsonb_build_object('name', p.name));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- A member's rights changed: their access tokens are outdated (as after a
-- role change), which also ends their open event streams, whose project
-- set was read when they opened (ngx_mam_events.c).
CREATE OR REPLACE FUNCTION mam_member_changed(p_user uuid) RETURNS users
LANGUAGE sql AS $$
    UPDATE users SET authz_version = authz_version + 1 WHERE id = p_user
    RETURNING *
$$;

-- POST /api/projects/:id/members {user_id | email, role, can_download?}
-- (managers, admins).  A manager cannot list the users (admins only), so
-- a member is also added by the e-mail of an active account (exact,
-- case-insensitive).  Outcomes: ok (member, av, status), not_found,
-- forbidden, invalid (neither or both of user_id and email), unknown (no
-- such user), missing (no active account with the e-mail), taken
-- (already a member).
CREATE OR REPLACE FUNCTION mam_member_add(p_id uuid, p_actor uuid,
                                          p_admin boolean, p_user uuid,
                                          p_email text, p_role text,
                                          p_download boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    m  project_members;
    u  users;
BEGIN
    IF (p_user IS NULL) = (p_email IS NULL) THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
    END IF;
    c := mam_project_for_change(p_id, p_actor, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    IF p_email IS NOT NULL THEN
        SELECT id INTO p_user FROM users
         WHERE lower(email) = lower(p_email) AND status = 'active';
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'missing'::mam_outcome);
        END IF;
    END IF;
    PERFORM 1 FROM users WHERE id = p_user;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown'::mam_outcome);
    END IF;

    INSERT INTO project_members (project_id, user_id, role, can_download)
    VALUES (p_id, p_user, p_role, coalesce(p_download, false))
    ON CONFLICT DO NOTHING
    RETURNING * INTO m;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'taken'::mam_outcome);
    END IF;

    u := mam_member_changed(p_user);
    PERFORM mam_audit(p_actor, 'member_add', 'project', p_id::text, p_ip,
                      jsonb_build_object('user_id', p_user, 'role', m.role,
                                         'can_download', m.can_download));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'member', mam_member_json(m),
                              'user_id', u.id, 'av', u.authz_version,
                              'status', u.status);
END
$$;

-- PATCH /api/projects/:id/members {user_id, role?, can_download?}
-- Outcomes: ok, not_found, forbidden, unknown (not a member).
CREATE OR REPLACE FUNCTION mam_member_update(p_id uuid, p_actor uuid,
                                             p_admin boolean, p_user uuid,
                                             p_role text, p_download boolean,
                                             p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c      jsonb;
    m      project_members;
    v_old  project_members;
    u      users;
BEGIN
    c := mam_project_for_change(p_id, p_actor, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM project_members
     WHERE project_id = p_id AND user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown'::mam_outcome);
    END IF;

    UPDATE project_members
       SET role = coalesce(p_role, role),
           can_download = coalesce(p_download, can_download)
     WHERE project_id = p_id AND user_id = p_user
    RETURNING * INTO m;

    u := mam_member_changed(p_user);
    PERFORM mam_audit(p_actor, 'member_update', 'project', p_id::text, p_ip,
        jsonb_build_object('user_id', p_user,
                           'before', jsonb_build_object(
                               'role', v_old.role,
                               'can_download', v_old.can_download),
                           'after', jsonb_build_object(
                               'role', m.role,
                               'can_download', m.can_download)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'member', mam_member_json(m),
                              'user_id', u.id, 'av', u.authz_version,
                              'status', u.status);
END
$$;

-- DELETE /api/projects/:id/members {user_id}
-- Outcomes: ok (with the play epochs it bumped), not_found, forbidden,
-- unknown (not a member).
CREATE OR REPLACE FUNCTION mam_member_remove(p_id uuid, p_actor uuid,
                                             p_admin boolean, p_user uuid,
                                             p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    u  users;
BEGIN
    c := mam_project_for_change(p_id, p_actor, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    DELETE FROM project_members WHERE project_id = p_id AND user_id = p_user;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown'::mam_outcome);
    END IF;

    u := mam_member_changed(p_user);
    PERFORM mam_audit(p_actor, 'member_remove', 'project', p_id::text, p_ip,
                      jsonb_build_object('user_id', p_user));

    -- the URLs they were handed stop: a URL does not say whose it is, so
    -- those of every asset of the project that may be playing (030)
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'user_id', u.id, 'av', u.authz_version,
                              'status', u.status,
                              'epochs', mam_play_revoke_project(p_id));
END
$$;

-- the project an asset is created in: the given one, or the default
-- project.  Outcomes: ok (project_id), not_found (not a member),
-- forbidden (below editor), nothing (no project given and the caller is
-- not an editor of the default project).
CREATE OR REPLACE FUNCTION mam_project_for_asset(p_project uuid, p_user uuid,
                                                 p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_project  uuid := p_project;
    v_rank     integer;
BEGIN
    IF v_project IS NULL THEN
        SELECT id INTO v_project FROM projects WHERE is_default;
        IF NOT FOUND OR mam_project_rank(v_project, p_user, p_admin) < 3 THEN
            RETURN jsonb_build_object('outcome', 'nothing'::mam_outcome);
        END IF;
    END IF;

    v_rank := mam_project_rank(v_project, p_user, p_admin);
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 3 THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'project_id', v_project);
END
$$;

-- An asset written without a project (SQL of older tools, seeds) lands in
-- the default project.  Named to fire before assets_write_item (triggers
-- fire by name), so the item shows the project.
CREATE OR REPLACE FUNCTION mam_asset_default_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.project_id IS NULL THEN
        NEW.project_id := (SELECT id FROM projects WHERE is_default);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER assets_default_project BEFORE INSERT ON assets
    FOR EACH ROW EXECUTE FUNCTION mam_asset_default_project();

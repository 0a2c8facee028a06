-- Accounts.  Each multi-step account operation is one function, so the
-- module runs it as one parameterized statement (one round trip, one
-- transaction) on its asynchronous pool, and the audit row is written in
-- the same transaction as the change it records.

CREATE OR REPLACE FUNCTION mam_user_roles(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(r.name ORDER BY r.name), '[]'::jsonb)
    FROM user_roles ur JOIN roles r ON r.id = ur.role_id
    WHERE ur.user_id = p_user
$$;

-- the `user` object of api.md
CREATE OR REPLACE FUNCTION mam_user_json(u users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id, 'email', u.email, 'display_name', u.display_name,
        'status', u.status, 'roles', mam_user_roles(u.id),
        'created_at', mam_time(u.created_at))
$$;

-- what a token is made of: the user, its session and authorization state
CREATE OR REPLACE FUNCTION mam_grant_json(u users, p_sid uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user', mam_user_json(u), 'sid', p_sid,
                              'av', u.authz_version,
                              'roles', mam_user_roles(u.id))
$$;

-- Registration.  The advisory lock makes "the first user becomes admin"
-- a decision taken once, even under concurrent registrations.
-- Returns {"outcome": "created"|"taken", "user": {...}}.
CREATE OR REPLACE FUNCTION mam_register(p_email text, p_name text, p_hash text,
                                        p_mode text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u        users;
    v_first  boolean;
    v_role   text;
BEGIN
    PERFORM pg_advisory_xact_lock(727002);

    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_email)) THEN
        RETURN jsonb_build_object('outcome', 'taken'::mam_outcome);
    END IF;

    v_first := NOT EXISTS (SELECT 1 FROM users);
    v_role := CASE WHEN v_first THEN 'admin' ELSE 'editor' END;

    INSERT INTO users (email, display_name, password_hash, status)
    VALUES (p_email, p_name, p_hash,
            CASE WHEN v_first OR p_mode = 'open' THEN 'active' ELSE 'pending' END)
    RETURNING * INTO u;

    INSERT INTO user_roles (user_id, role_id)
    SELECT u.id, id FROM roles WHERE name = v_role;

    -- every account joins the default project (016), as every account
    -- saw every asset before projects: the instance's role there
    INSERT INTO project_members (project_id, user_id, role)
    SELECT p.id, u.id, CASE v_role WHEN 'admin' THEN 'manager'
                                   ELSE 'editor' END
      FROM projects p WHERE p.is_default;

    INSERT INTO audit_log (user_id, action, target_type, target_id, ip, details)
    VALUES (u.id, 'register', 'user', u.id::text, mam_inet(p_ip),
            jsonb_build_object('status', u.status, 'role', v_role));

    RETURN jsonb_build_object('outcome', 'created'::mam_outcome,
                              'user', mam_user_json(u));
END
$$;

-- A new refresh-token family after a successful password check.
CREATE OR REPLACE FUNCTION mam_session_create(p_user uuid, p_hash text,
                                              p_ttl integer, p_ip text,
                                              p_ua text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u  users;
    s  sessions;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user AND status = 'active';
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'inactive'::mam_outcome);
    END IF;

    INSERT INTO sessions (user_id, family_id, jti, refresh_token_hash,
                          user_agent, ip, expires_at, last_used_at)
    VALUES (u.id, gen_random_uuid(), gen_random_uuid()::text, p_hash,
            left(p_ua, 512), p_ip, now() + make_interval(secs => p_ttl), now())
    RETURNING * INTO s;

    INSERT INTO audit_log (user_id, action, target_type, target_id, ip)
    VALUES (u.id, 'login', 'session', s.id::text, mam_inet(p_ip));

    RETURN mam_grant_json(u, s.id)
           || jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- Rotation: the presented token is revoked and replaced by a new one in
-- the same family.  Presenting a token that was already rotated is reuse:
-- the whole family is revoked, the legitimate holder's newest token too.
CREATE OR REPLACE FUNCTION mam_refresh(p_hash text, p_new_hash text,
                                       p_ttl integer, p_ip text, p_ua text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s    sessions;
    n    sessions;
    u    users;
BEGIN
    SELECT * INTO s FROM sessions WHERE refresh_token_hash = p_hash FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
    END IF;

    IF s.replaced_by_jti IS NOT NULL THEN
        UPDATE sessions
           SET revoked_at = coalesce(revoked_at, now()),
               revoked_reason = coalesce(revoked_reason, 'reuse')
         WHERE family_id = s.family_id;
        INSERT INTO audit_log (user_id, action, target_type, target_id, ip,
                               details)
        VALUES (s.user_id, 'refresh_reuse', 'session', s.id::text,
                mam_inet(p_ip), jsonb_build_object('family_id', s.family_id));
        RETURN jsonb_build_object('outcome', 'reuse'::mam_outcome);
    END IF;

    IF s.revoked_at IS NOT NULL OR s.expires_at <= now() THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
    END IF;

    SELECT * INTO u FROM users WHERE id = s.user_id AND status = 'active';
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome);
    END IF;

    INSERT INTO sessions (user_id, family_id, jti, refresh_token_hash,
                          parent_jti, user_agent, ip, expires_at, last_used_at)
    VALUES (s.user_id, s.family_id, gen_random_uuid()::text, p_new_hash,
            s.jti, left(p_ua, 512), p_ip,
            now() + make_interval(secs => p_ttl), now())
    RETURNING * INTO n;

    UPDATE sessions
       SET replaced_by_jti = n.jti, revoked_at = now(),
           revoked_reason = 'rotated', last_used_at = now()
     WHERE id = s.id;

    RETURN mam_grant_json(u, n.id)
           || jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- Logout: the family of the current session, or every session of the user.
CREATE OR REPLACE FUNCTION mam_logout(p_user uuid, p_sid uuid, p_all boolean,
                                      p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE sessions
       SET revoked_at = now(), revoked_reason = 'logout'
     WHERE user_id = p_user AND revoked_at IS NULL
       AND (p_all OR family_id = (SELECT family_id FROM sessions
                                   WHERE id = p_sid AND user_id = p_user));
    GET DIAGNOSTICS v_count = ROW_COUNT;

    INSERT INTO audit_log (user_id, action, target_type, target_id, ip, details)
    VALUES (p_user, 'logout', 'session', p_sid::text, mam_inet(p_ip),
            jsonb_build_object('all', p_all, 'revoked', v_count));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'revoked', v_count);
END
$$;

-- An admin changes a user's status and/or roles.  Any real change bumps
-- authz_version, which invalidates the user's access tokens.  The last
-- active admin cannot be demoted or disabled (nobody could undo it).
CREATE OR REPLACE FUNCTION mam_user_update(p_actor uuid, p_target uuid,
                                           p_status text, p_roles text[],
                                           p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u          users;
    v_old      jsonb;
    v_roles    text[];
    v_changed  boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock(727003);

    SELECT * INTO u FROM users WHERE id = p_target FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;

    v_old := mam_user_json(u);
    SELECT coalesce(array_agg(x ORDER BY x), '{}') INTO v_roles
      FROM (SELECT DISTINCT unnest(p_roles) AS x) d;

    IF p_roles IS NOT NULL
       AND v_old->'roles' <> to_jsonb(v_roles) THEN
        DELETE FROM user_roles WHERE user_id = u.id;
        INSERT INTO user_roles (user_id, role_id)
        SELECT u.id, id FROM roles WHERE name = ANY (v_roles);
        v_changed := true;
    END IF;

    IF p_status IS NOT NULL AND p_status <> u.status THEN
        UPDATE users SET status = p_status WHERE id = u.id;
        v_changed := true;
    END IF;

    IF v_changed AND NOT EXISTS (
        SELECT 1 FROM users x
          JOIN user_roles ur ON ur.user_id = x.id
          JOIN roles r ON r.id = ur.role_id AND r.name = 'admin'
         WHERE x.status = 'active')
    THEN
        RAISE EXCEPTION USING ERRCODE = 'MAM01',
              MESSAGE = 'the last active admin cannot be demoted or disabled';
    END IF;

    IF v_changed THEN
        UPDATE users SET authz_version = authz_version + 1 WHERE id = u.id
        RETURNING * INTO u;

        INSERT INTO audit_log (user_id, action, target_type, target_id, ip,
                               details)
        VALUES (p_actor, 'user_update', 'user', u.id::text, mam_inet(p_ip),
                jsonb_build_object('before', v_old, 'after', mam_user_json(u)));
    END IF;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'user', mam_user_json(u),
                              'av', u.authz_version, 'status', u.status);
END
$$;

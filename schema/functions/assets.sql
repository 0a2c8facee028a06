-- Assets, versions and promote.  As for accounts, each operation is one
-- function (one parameterized statement, one transaction, audited in it)
-- returning jsonb with an "outcome" the module maps to a status.
-- Permission decisions are made here too, from the caller's id and admin
-- flag, so a request costs one round trip.  The reads (list, asset by id)
-- are static statements in the module (ngx_mam_module/ngx_mam_sql.h).

-- the `version` and `asset` objects of api.md, as the writes answer them
CREATE OR REPLACE FUNCTION mam_version_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'asset_id', v.asset_id, 'number', v.number,
        'master_key', v.master_key, 'size', v.size, 'metadata', v.metadata,
        'preview', mam_preview_json(v), 'approval', mam_approval_json(v),
        'created_at', mam_time(v.created_at))
$$;

CREATE OR REPLACE FUNCTION mam_asset_json(a assets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'project_id', a.project_id, 'folder_id', a.folder_id,
        'title', a.title, 'description', a.description,
        'fields', a.fields, 'tags', to_jsonb(a.tags),
        'owner', (SELECT jsonb_build_object('id', u.id,
                                            'display_name', u.display_name)
                    FROM users u WHERE u.id = a.user_id),
        'created_at', mam_time(a.created_at),
        'updated_at', mam_time(a.updated_at),
        'latest_version', l.version,
        -- the asset's review status: its latest version's (issue 21)
        'approval', coalesce(l.version->'approval',
                             jsonb_build_object('status', 'none',
                                                'user', NULL, 'note', NULL,
                                                'at', NULL)))
      FROM (SELECT (SELECT mam_version_json(v) FROM versions v
                     WHERE v.asset_id = a.id
                     ORDER BY v.number DESC LIMIT 1) AS version) l
$$;

CREATE OR REPLACE FUNCTION mam_asset_create(p_user uuid, p_admin boolean,
                                            p_project uuid, p_title text,
                                            p_desc text, p_key text, p_ip text,
                                            p_folder text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    a          assets;
    v_project  uuid;
    v_folder   uuid;
BEGIN
    c := mam_project_for_asset(p_project, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    v_project := (c->>'project_id')::uuid;

    -- a folder of the asset's project ('' or none: its root)
    c := mam_folder_in(p_folder, v_project);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    v_folder := (c->>'folder_id')::uuid;

    c := mam_claim_upload(p_user, p_key, NULL);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;

    INSERT INTO assets (user_id, project_id, folder_id, title, description,
                        staging_key, upload_id)
    VALUES (p_user, v_project, v_folder, p_title, coalesce(p_desc, ''), p_key,
            (c->>'id')::uuid)
    RETURNING * INTO a;

    PERFORM mam_audit(p_user, 'asset_create', 'asset', a.id::text, p_ip,
                      jsonb_build_object('title', a.title,
                                         'project_id', a.project_id,
                                         'folder_id', a.folder_id,
                                         'staging_key', p_key));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'asset', mam_asset_json(a));
END
$$;

-- The live asset p_id if the caller may modify it: its owner while an
-- editor of its project, a manager of its project, or an admin.
-- Outcomes: ok, not_found (also for a non-member: the asset is not
-- revealed), forbidden.
CREATE OR REPLACE FUNCTION mam_asset_for_change(p_id uuid, p_user uuid,
                                                p_admin boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a       assets;
    v_rank  integer;
BEGIN
    SELECT * INTO a FROM assets WHERE id = p_id AND deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    v_rank := mam_project_rank(a.project_id, p_user, p_admin);
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 4 AND NOT (v_rank = 3 AND a.user_id = p_user) THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- PATCH: title, description, and (our addition) a new staging_key that
-- the next promote turns into the next version, project_id: a move, for
-- a manager of both projects (or an admin), folder_id (021): a folder of
-- the asset's project ('' the root; a move without one: the new project's
-- root), fields (values of the project's custom fields, null removes one)
-- and tags (replaced), checked by mam_asset_meta() (fields.sql) against
-- the asset's (new) project.  Outcomes besides for_change's: not_manager,
-- unknown (no such folder in the project), mam_asset_meta's and
-- mam_claim_upload's.
CREATE OR REPLACE FUNCTION mam_asset_update(p_id uuid, p_user uuid,
                                            p_admin boolean, p_title text,
                                            p_desc text, p_key text,
                                            p_project uuid, p_fields jsonb,
                                            p_tags jsonb, p_ip text,
                                            p_folder text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    m          jsonb;
    f          jsonb;
    a          assets;
    v_old      assets;
    v_project  uuid;
    v_epochs   jsonb := '[]';
BEGIN
    c := mam_asset_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM assets WHERE id = p_id;
    v_project := coalesce(p_project, v_old.project_id);

    IF v_project <> v_old.project_id THEN
        IF mam_project_rank(v_old.project_id, p_user, p_admin) < 4
           OR mam_project_rank(v_project, p_user, p_admin) < 4 THEN
            RETURN jsonb_build_object('outcome', 'not_manager'::mam_outcome);
        END IF;
    END IF;

    -- checked before anything is written: a bad value changes nothing
    m := mam_asset_meta(v_project, v_old.fields, v_old.tags, p_fields,
                        p_tags, NULL, NULL);
    IF m->>'outcome' <> 'ok' THEN
        RETURN m;
    END IF;

    -- the folder: the one given (of the asset's project, after a move),
    -- else the same one, else (a move) the new project's root
    IF p_folder IS NOT NULL OR v_project <> v_old.project_id THEN
        f := mam_folder_in(p_folder, v_project);
        IF f->>'outcome' <> 'ok' THEN
            RETURN f;
        END IF;
        UPDATE assets SET project_id = v_project,
                          folder_id = (f->>'folder_id')::uuid
         WHERE id = p_id;
        -- a move: the old project's members lose it, its URLs stop (030)
        IF v_project <> v_old.project_id THEN
            v_epochs := mam_play_revoke(ARRAY[p_id]);
        END IF;
    END IF;

    IF p_key IS NOT NULL THEN
        c := mam_claim_upload(p_user, p_key, p_id);
        IF c->>'outcome' <> 'ok' THEN
            RETURN c;
        END IF;
        UPDATE assets SET staging_key = p_key, upload_id = (c->>'id')::uuid
         WHERE id = p_id;
    END IF;

    UPDATE assets SET title = coalesce(p_title, title),
                      description = coalesce(p_desc, description),
                      fields = m->'fields',
                      tags = array(SELECT jsonb_array_elements_text(
                                              m->'tags'))
     WHERE id = p_id
    RETURNING * INTO a;

    PERFORM mam_audit(p_user, 'asset_update', 'asset', a.id::text, p_ip,
        jsonb_build_object('before', jsonb_build_object(
                               'title', v_old.title,
                               'description', v_old.description,
                               'project_id', v_old.project_id,
                               'folder_id', v_old.folder_id,
                               'staging_key', v_old.staging_key,
                               'fields', v_old.fields,
                               'tags', to_jsonb(v_old.tags)),
                           'after', jsonb_build_object(
                               'title', a.title,
                               'description', a.description,
                               'project_id', a.project_id,
                               'folder_id', a.folder_id,
                               'staging_key', a.staging_key,
                               'fields', a.fields,
                               'tags', to_jsonb(a.tags))));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'asset', mam_asset_json(a),
                              'epochs', v_epochs);
END
$$;

CREATE OR REPLACE FUNCTION mam_asset_delete(p_id uuid, p_user uuid,
                                            p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
BEGIN
    c := mam_asset_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    UPDATE assets SET deleted_at = now() WHERE id = p_id;
    PERFORM mam_audit(p_user, 'asset_delete', 'asset', p_id::text, p_ip,
                      NULL);
    -- its playback URLs stop too (030)
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'epochs', mam_play_revoke(ARRAY[p_id]));
END
$$;

-- GET /api/assets's search (ngx_mam_sql.h): the words of q, each matched
-- as a prefix.
CREATE OR REPLACE FUNCTION mam_tsquery(p_q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' & '))
      FROM regexp_split_to_table(lower(coalesce(p_q, '')), '[^[:alnum:]]+') w
     WHERE w <> ''
$$;

-- the words of q, as mam_tsquery() splits them: the search is refused
-- beyond 8, so one request expands into at most 8 prefix scans
CREATE OR REPLACE FUNCTION mam_query_words(p_q text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT count(*)::integer
      FROM regexp_split_to_table(lower(coalesce(p_q, '')), '[^[:alnum:]]+') w
     WHERE w <> ''
$$;

-- POST /api/promote, step 1: the intent, with the next version number.
-- Outcomes: ok, not_found, forbidden, nothing (no staging object), busy.
CREATE OR REPLACE FUNCTION mam_promote_begin(p_id uuid, p_user uuid,
                                             p_admin boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c   jsonb;
    a   assets;
    up  uploads;
    p   promotions;
BEGIN
    c := mam_asset_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO a FROM assets WHERE id = p_id;

    IF EXISTS (SELECT 1 FROM promotions WHERE asset_id = p_id) THEN
        RETURN jsonb_build_object('outcome', 'busy'::mam_outcome);
    END IF;
    SELECT * INTO up FROM uploads WHERE id = a.upload_id;
    IF a.staging_key IS NULL OR NOT FOUND OR up.status <> 'complete' THEN
        RETURN jsonb_build_object('outcome', 'nothing'::mam_outcome);
    END IF;

    INSERT INTO promotions (asset_id, upload_id, number, staging_key,
                            master_key, size, created_by)
    VALUES (a.id, up.id, a.version_count + 1, a.staging_key,
            'masters/' || a.id || '/v' || (a.version_count + 1)
                || '/original' || coalesce('.' || lower(substring(
                       a.staging_key FROM '\.([A-Za-z0-9]{1,10})$')), ''),
            up.size, p_user)
    RETURNING * INTO p;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome, 'promotion', p.id,
                              'staging_key', p.staging_key,
                              'master_key', p.master_key, 'size', p.size);
END
$$;

-- step 2: the master file exists; record the version.  Idempotent: a
-- second call for the same promotion finds no intent and does nothing.
-- Promote records the version and its first job in one transaction, so a
-- version never lacks its job even if Redis is down: the module XADDs the
-- entry afterwards, and reconciliation does it if that fails.
CREATE OR REPLACE FUNCTION mam_promote_finish(p_promotion uuid, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    p  promotions;
    v  versions;
    j  preview_jobs;
BEGIN
    DELETE FROM promotions WHERE id = p_promotion RETURNING * INTO p;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'gone'::mam_outcome);
    END IF;

    INSERT INTO versions (asset_id, number, master_key, size, created_by,
                          filename)
    VALUES (p.asset_id, p.number, p.master_key, p.size, p.created_by,
            (SELECT left(filename, 255) FROM uploads WHERE id = p.upload_id))
    RETURNING * INTO v;

    UPDATE assets SET version_count = p.number,
                      staging_key = CASE WHEN staging_key = p.staging_key
                                         THEN NULL ELSE staging_key END,
                      upload_id = CASE WHEN upload_id = p.upload_id
                                       THEN NULL ELSE upload_id END
     WHERE id = p.asset_id;
    UPDATE uploads SET status = 'consumed' WHERE id = p.upload_id;

    PERFORM mam_audit(p.created_by, 'promote', 'version', v.id::text, p_ip,
                      jsonb_build_object('asset_id', p.asset_id,
                                         'number', p.number,
                                         'master_key', p.master_key));

    j := mam_job_new(v.id, p.created_by, p_ip);
    SELECT * INTO v FROM versions WHERE id = v.id;

    -- whoever commented on the asset hears of the new version
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'version', mam_version_json(v),
                              'notify', mam_notify_version(v, p.created_by),
                              'entry', mam_job_entry(j),
                              'event', jsonb_build_object(
                                  'asset_id', v.asset_id,
                                  'project_id', (SELECT project_id FROM assets
                                                  WHERE id = v.asset_id),
                                  'status', mam_preview_json(v)));
END
$$;

-- step 2 when the file could not be created: forget the intent
CREATE OR REPLACE FUNCTION mam_promote_abort(p_promotion uuid) RETURNS jsonb
LANGUAGE sql AS $$
    DELETE FROM promotions WHERE id = p_promotion;
    SELECT jsonb_build_object('outcome', 'ok'::mam_outcome)
$$;

-- 003: uploads, assets, versions, promote.  As in 002, each operation is
-- one function (one parameterized statement, one transaction, audited in
-- it) returning jsonb with an "outcome" the module maps to a status.
-- Permission decisions are made here too, from the caller's id and admin
-- flag, so a request costs one round trip.

-- A promote in flight: written before the master file is created and
-- removed in the transaction that records the version, so a crash in
-- between leaves a row that housekeeping resolves from the file system
-- (file there: record the version; file absent: forget the intent).
CREATE TABLE promotions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asset_id     uuid NOT NULL UNIQUE REFERENCES assets (id),
    upload_id    uuid REFERENCES uploads (id) ON DELETE SET NULL,
    number       integer NOT NULL CHECK (number >= 1),
    staging_key  text NOT NULL,
    master_key   text NOT NULL UNIQUE,
    size         bigint NOT NULL,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION mam_audit(p_user uuid, p_action text, p_type text,
                          p_target text, p_ip text, p_details jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (user_id, action, target_type, target_id, ip, details)
    VALUES (p_user, p_action, p_type, p_target, mam_inet(p_ip),
            coalesce(p_details, '{}'))
$$;

-- preview_status of api.md for a version
CREATE FUNCTION mam_preview_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object(
                    'version_id', v.id, 'job_id', j.id, 'status', j.status,
                    'progress', j.progress, 'error', j.error,
                    'renditions', j.renditions,
                    'updated_at', mam_time(j.updated_at))
           FROM preview_jobs j WHERE j.id = v.preview_job_id),
        jsonb_build_object('version_id', v.id, 'job_id', NULL,
                           'status', 'none', 'progress', 0, 'error', NULL,
                           'renditions', '[]'::jsonb,
                           'updated_at', mam_time(v.created_at)))
$$;

CREATE FUNCTION mam_version_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'asset_id', v.asset_id, 'number', v.number,
        'master_key', v.master_key, 'size', v.size, 'metadata', v.metadata,
        'preview', mam_preview_json(v), 'created_at', mam_time(v.created_at))
$$;

CREATE FUNCTION mam_asset_json(a assets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'title', a.title, 'description', a.description,
        'owner', (SELECT jsonb_build_object('id', u.id,
                                            'display_name', u.display_name)
                    FROM users u WHERE u.id = a.user_id),
        'created_at', mam_time(a.created_at),
        'updated_at', mam_time(a.updated_at),
        'latest_version', (SELECT mam_version_json(v) FROM versions v
                            WHERE v.asset_id = a.id
                            ORDER BY v.number DESC LIMIT 1))
$$;

-- POST /api/presign: the upload's record; the module signs the URL.
CREATE FUNCTION mam_presign(p_user uuid, p_filename text, p_safe text,
                            p_type text, p_size bigint, p_ttl integer,
                            p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id   uuid := gen_random_uuid();
    up     uploads;
BEGIN
    INSERT INTO uploads (id, user_id, staging_key, filename, content_type,
                         size, expires_at)
    VALUES (v_id, p_user, 'uploads/' || p_user || '/' || v_id || '/' || p_safe,
            p_filename, p_type, p_size,
            date_trunc('second', now()) + make_interval(secs => p_ttl))
    RETURNING * INTO up;

    PERFORM mam_audit(p_user, 'presign', 'upload', up.id::text, p_ip,
                      jsonb_build_object('filename', p_filename,
                                         'size', p_size,
                                         'content_type', p_type));

    RETURN jsonb_build_object('outcome', 'ok', 'id', up.id,
        'staging_key', up.staging_key,
        'expires', extract(epoch FROM up.expires_at)::bigint,
        'expires_at', mam_time(up.expires_at));
END
$$;

-- PUT: may this upload receive its body?  (the signature is checked first)
CREATE FUNCTION mam_upload_state(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('outcome', status, 'size', size,
                                   'staging_key', staging_key,
                                   'expired', expires_at <= now())
           FROM uploads WHERE id = p_id),
        jsonb_build_object('outcome', 'missing'))
$$;

-- PUT: the body is in place at the staging key
CREATE FUNCTION mam_upload_complete(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    UPDATE uploads SET status = 'complete', completed_at = now()
     WHERE id = p_id AND status = 'pending'
    RETURNING * INTO up;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'conflict');
    END IF;
    RETURN jsonb_build_object('outcome', 'ok', 'staging_key', up.staging_key,
                              'size', up.size);
END
$$;

-- The caller's own complete upload, not yet attached to an asset.
-- Outcomes: ok (with the upload), invalid, not_yours, incomplete, taken.
CREATE FUNCTION mam_claim_upload(p_user uuid, p_key text, p_asset uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    up  uploads;
BEGIN
    SELECT * INTO up FROM uploads WHERE staging_key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'invalid');
    END IF;
    IF up.user_id <> p_user THEN
        RETURN jsonb_build_object('outcome', 'not_yours');
    END IF;
    IF up.status <> 'complete' THEN
        RETURN jsonb_build_object('outcome', 'incomplete');
    END IF;
    IF EXISTS (SELECT 1 FROM assets WHERE upload_id = up.id
                                      AND id IS DISTINCT FROM p_asset)
       OR EXISTS (SELECT 1 FROM promotions WHERE upload_id = up.id) THEN
        RETURN jsonb_build_object('outcome', 'taken');
    END IF;
    RETURN jsonb_build_object('outcome', 'ok', 'id', up.id);
END
$$;

CREATE FUNCTION mam_asset_create(p_user uuid, p_title text, p_desc text,
                                 p_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    a  assets;
BEGIN
    c := mam_claim_upload(p_user, p_key, NULL);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;

    INSERT INTO assets (user_id, title, description, staging_key, upload_id)
    VALUES (p_user, p_title, coalesce(p_desc, ''), p_key, (c->>'id')::uuid)
    RETURNING * INTO a;

    PERFORM mam_audit(p_user, 'asset_create', 'asset', a.id::text, p_ip,
                      jsonb_build_object('title', a.title,
                                         'staging_key', p_key));

    RETURN jsonb_build_object('outcome', 'ok', 'asset', mam_asset_json(a));
END
$$;

-- The live asset p_id if the caller may modify it.
-- Outcomes: ok, not_found, forbidden.
CREATE FUNCTION mam_asset_for_change(p_id uuid, p_user uuid, p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a  assets;
BEGIN
    SELECT * INTO a FROM assets WHERE id = p_id AND deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found');
    END IF;
    IF NOT p_admin AND a.user_id <> p_user THEN
        RETURN jsonb_build_object('outcome', 'forbidden');
    END IF;
    RETURN jsonb_build_object('outcome', 'ok');
END
$$;

-- PATCH: title, description, and (our addition) a new staging_key that
-- the next promote turns into the next version.
CREATE FUNCTION mam_asset_update(p_id uuid, p_user uuid, p_admin boolean,
                                 p_title text, p_desc text, p_key text,
                                 p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c      jsonb;
    a      assets;
    v_old  assets;
BEGIN
    c := mam_asset_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM assets WHERE id = p_id;

    IF p_key IS NOT NULL THEN
        c := mam_claim_upload(p_user, p_key, p_id);
        IF c->>'outcome' <> 'ok' THEN
            RETURN c;
        END IF;
        UPDATE assets SET staging_key = p_key, upload_id = (c->>'id')::uuid
         WHERE id = p_id;
    END IF;

    UPDATE assets SET title = coalesce(p_title, title),
                      description = coalesce(p_desc, description)
     WHERE id = p_id
    RETURNING * INTO a;

    PERFORM mam_audit(p_user, 'asset_update', 'asset', a.id::text, p_ip,
        jsonb_build_object('before', jsonb_build_object(
                               'title', v_old.title,
                               'description', v_old.description,
                               'staging_key', v_old.staging_key),
                           'after', jsonb_build_object(
                               'title', a.title,
                               'description', a.description,
                               'staging_key', a.staging_key)));

    RETURN jsonb_build_object('outcome', 'ok', 'asset', mam_asset_json(a));
END
$$;

CREATE FUNCTION mam_asset_delete(p_id uuid, p_user uuid, p_admin boolean,
                                 p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
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
    RETURN jsonb_build_object('outcome', 'ok');
END
$$;

CREATE FUNCTION mam_asset_get(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object(
                    'outcome', 'ok', 'asset', mam_asset_json(a),
                    'versions', coalesce(
                        (SELECT jsonb_agg(mam_version_json(v)
                                          ORDER BY v.number DESC)
                           FROM versions v WHERE v.asset_id = a.id),
                        '[]'::jsonb))
           FROM assets a WHERE a.id = p_id AND a.deleted_at IS NULL),
        jsonb_build_object('outcome', 'not_found'))
$$;

-- GET /api/assets: one page in keyset order.  p_after_value/p_after_id
-- come from a cursor the module issued (and verified); p_tsquery is built
-- here from the words of q, each matched as a prefix.
CREATE FUNCTION mam_tsquery(p_q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' & '))
      FROM regexp_split_to_table(lower(coalesce(p_q, '')), '[^[:alnum:]]+') w
     WHERE w <> ''
$$;

CREATE FUNCTION mam_asset_list(p_q text, p_sort text, p_limit integer,
                               p_after_value text, p_after_id uuid)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_query  tsquery := mam_tsquery(p_q);
    v_key    text;
    v_cmp    text;
    v_order  text;
    v_sql    text;
    v_rows   jsonb;
BEGIN
    IF p_sort = 'title' THEN
        v_key := 'a.title';
        v_cmp := '(a.title, a.id) > ($3, $4)';
        v_order := 'a.title, a.id';
    ELSIF p_sort = 'created_at' THEN
        v_key := 'a.created_at';
        v_cmp := '(a.created_at, a.id) > ($3::timestamptz, $4)';
        v_order := 'a.created_at, a.id';
    ELSE
        v_key := 'a.created_at';
        v_cmp := '(a.created_at, a.id) < ($3::timestamptz, $4)';
        v_order := 'a.created_at DESC, a.id DESC';
    END IF;

    v_sql := 'SELECT coalesce(jsonb_agg(jsonb_build_object('
          || '''asset'', mam_asset_json(a), ''key'', '
          || CASE WHEN p_sort = 'title' THEN 'a.title'
                  ELSE 'to_char(a.created_at AT TIME ZONE ''UTC'', '
                       '''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'')' END
          || ') ORDER BY ' || v_order || '), ''[]'') FROM ('
          || 'SELECT a.* FROM assets a WHERE a.deleted_at IS NULL'
          || CASE WHEN v_query IS NOT NULL THEN ' AND a.search @@ $1' ELSE '' END
          || CASE WHEN p_after_id IS NOT NULL THEN ' AND ' || v_cmp ELSE '' END
          || ' ORDER BY ' || v_order || ' LIMIT $2) a';

    EXECUTE v_sql INTO v_rows USING v_query, p_limit + 1, p_after_value,
                                    p_after_id;
    RETURN jsonb_build_object('outcome', 'ok', 'rows', v_rows);
END
$$;

-- POST /api/promote, step 1: the intent, with the next version number.
-- Outcomes: ok, not_found, forbidden, nothing (no staging object), busy.
CREATE FUNCTION mam_promote_begin(p_id uuid, p_user uuid, p_admin boolean)
RETURNS jsonb
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
        RETURN jsonb_build_object('outcome', 'busy');
    END IF;
    SELECT * INTO up FROM uploads WHERE id = a.upload_id;
    IF a.staging_key IS NULL OR NOT FOUND OR up.status <> 'complete' THEN
        RETURN jsonb_build_object('outcome', 'nothing');
    END IF;

    INSERT INTO promotions (asset_id, upload_id, number, staging_key,
                            master_key, size, created_by)
    VALUES (a.id, up.id, a.version_count + 1, a.staging_key,
            'masters/' || a.id || '/v' || (a.version_count + 1)
                || '/original' || coalesce('.' || lower(substring(
                       a.staging_key FROM '\.([A-Za-z0-9]{1,10})$')), ''),
            up.size, p_user)
    RETURNING * INTO p;

    RETURN jsonb_build_object('outcome', 'ok', 'promotion', p.id,
                              'staging_key', p.staging_key,
                              'master_key', p.master_key, 'size', p.size);
END
$$;

-- step 2: the master file exists; record the version.  Idempotent: a
-- second call for the same promotion finds no intent and does nothing.
CREATE FUNCTION mam_promote_finish(p_promotion uuid, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    p  promotions;
    v  versions;
BEGIN
    DELETE FROM promotions WHERE id = p_promotion RETURNING * INTO p;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'gone');
    END IF;

    INSERT INTO versions (asset_id, number, master_key, size, created_by)
    VALUES (p.asset_id, p.number, p.master_key, p.size, p.created_by)
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

    RETURN jsonb_build_object('outcome', 'ok', 'version', mam_version_json(v));
END
$$;

-- step 2 when the file could not be created: forget the intent
CREATE FUNCTION mam_promote_abort(p_promotion uuid) RETURNS jsonb
LANGUAGE sql AS $$
    DELETE FROM promotions WHERE id = p_promotion;
    SELECT jsonb_build_object('outcome', 'ok')
$$;

-- Housekeeping, one worker, periodically: what to look at on disk.
-- Stale uploads (not promoted within p_staging_ttl seconds) and promotions
-- older than p_stuck seconds (their request died between the file and the
-- version row).
CREATE FUNCTION mam_housekeeping_work(p_staging_ttl integer, p_stuck integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'uploads', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', u.id,
                                                'staging_key', u.staging_key))
              FROM (SELECT id, staging_key FROM uploads
                     WHERE status IN ('pending', 'complete')
                       AND created_at < now() - make_interval(secs => p_staging_ttl)
                       AND NOT EXISTS (SELECT 1 FROM promotions p
                                        WHERE p.upload_id = uploads.id)
                     ORDER BY created_at LIMIT 100) u), '[]'::jsonb),
        'promotions', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', p.id,
                                                'master_key', p.master_key,
                                                'staging_key', p.staging_key,
                                                'size', p.size))
              FROM (SELECT id, master_key, staging_key, size FROM promotions
                     WHERE created_at < now() - make_interval(secs => p_stuck)
                     ORDER BY created_at LIMIT 100) p), '[]'::jsonb))
$$;

-- an expired upload's staging object is gone
CREATE FUNCTION mam_upload_expire(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE uploads SET status = 'expired'
     WHERE id = p_id AND status IN ('pending', 'complete');
    IF FOUND THEN
        UPDATE assets SET staging_key = NULL, upload_id = NULL
         WHERE upload_id = p_id;
        PERFORM mam_audit(NULL, 'upload_expire', 'upload', p_id::text, NULL,
                          NULL);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok');
END
$$;

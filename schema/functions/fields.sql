-- Custom fields (018's project_fields), the values of assets.fields and
-- the tags of assets.tags (issue 19).  A project's managers define its
-- fields; whoever may change an asset sets its values and tags.  Every
-- value is checked against its field and stored in one canonical form,
-- which the list filters (`field.NAME=V`, `tag=T`) match:
--
--   text          a JSON string (at most 1000 characters)
--   number        a JSON number without trailing zeros (trim_scale: 5 and
--                 5.0 are both stored as 5, 0.50 as 0.5), so ->> gives
--                 one text per value
--   date          a JSON string YYYY-MM-DD, a real date
--   choice        a JSON string, one of the field's choices
--   multi_choice  a JSON array of distinct choices, sorted bytewise
--                 (COLLATE "C", whatever the database's collation)
--   tags          a JSON array of normalized tags (as asset tags), sorted
--
-- and asset tags: trimmed, lowercased, 1..64 characters, no control
-- characters, deduplicated, sorted bytewise (mam_tags_norm), at most 50.
--
-- A bad value raises SQLSTATE MAM01 with the message of the 400 (naming
-- the field); mam_asset_meta() turns it into {outcome: invalid, message},
-- which the module answers with that message (ngx_mam_refuse_outcome).

-- the `field` object
CREATE OR REPLACE FUNCTION mam_field_json(f project_fields) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', f.id, 'project_id', f.project_id, 'name', f.name,
        'label', f.label, 'kind', f.kind, 'choices', to_jsonb(f.choices),
        'position', f.position,
        'created_at', mam_time(f.created_at),
        'updated_at', mam_time(f.updated_at))
$$;

CREATE OR REPLACE FUNCTION mam_invalid(p_message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'MAM01', MESSAGE = p_message;
END
$$;

-- {outcome, message}: a refusal whose message the module answers
CREATE OR REPLACE FUNCTION mam_refusal(p_outcome mam_outcome,
                                       p_message text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('outcome', p_outcome::mam_outcome,
                              'message', p_message)
$$;

-- one tag, normalized (p_what names it in the message)
CREATE OR REPLACE FUNCTION mam_tag_norm(p_what text, p_tag jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    t  text;
BEGIN
    IF jsonb_typeof(p_tag) IS DISTINCT FROM 'string' THEN
        PERFORM mam_invalid(p_what || ': each tag must be a string');
    END IF;
    t := lower(btrim(p_tag #>> '{}', E' \t\r\n'));
    IF length(t) NOT BETWEEN 1 AND 64 THEN
        PERFORM mam_invalid(p_what || ': a tag has 1 to 64 characters');
    END IF;
    IF t ~ '[[:cntrl:]]' THEN
        PERFORM mam_invalid(p_what || ': a tag has no control characters');
    END IF;
    RETURN t;
END
$$;

-- an array of tags, normalized: deduplicated and sorted; at most 50
CREATE OR REPLACE FUNCTION mam_tags_norm(p_what text, p_tags jsonb)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v  text[];
BEGIN
    IF jsonb_typeof(p_tags) IS DISTINCT FROM 'array' THEN
        PERFORM mam_invalid(p_what || ': must be an array of tags');
    END IF;
    IF jsonb_array_length(p_tags) > 50 THEN
        PERFORM mam_invalid(p_what || ': at most 50 tags');
    END IF;
    SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}')
      INTO v
      FROM (SELECT mam_tag_norm(p_what, e) COLLATE "C" AS t
              FROM jsonb_array_elements(p_tags) e) n;
    RETURN v;
END
$$;

-- a list of choices: 1..200 distinct strings of 1..100 characters
CREATE OR REPLACE FUNCTION mam_choices_norm(p_choices jsonb)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v  text[];
BEGIN
    IF jsonb_typeof(p_choices) IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_choices) NOT BETWEEN 1 AND 200 THEN
        PERFORM mam_invalid('choices: must be an array of 1 to 200 choices');
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_choices) e
                WHERE jsonb_typeof(e) <> 'string'
                   OR length(e #>> '{}') NOT BETWEEN 1 AND 100
                   OR (e #>> '{}') ~ '[[:cntrl:]]') THEN
        PERFORM mam_invalid('choices: each choice is a string of 1 to 100 '
                            'characters without control characters');
    END IF;
    SELECT array_agg(e ORDER BY n) INTO v
      FROM jsonb_array_elements_text(p_choices) WITH ORDINALITY AS c (e, n);
    IF cardinality(v) <> (SELECT count(DISTINCT x) FROM unnest(v) x) THEN
        PERFORM mam_invalid('choices: must be distinct');
    END IF;
    RETURN v;
END
$$;

-- a value of field f in its stored form (see the top), or MAM01
CREATE OR REPLACE FUNCTION mam_field_value(f project_fields, p_v jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    w  text := 'fields.' || f.name;
    s  text;
    d  date;
    a  text[];
BEGIN
    CASE f.kind
    WHEN 'text' THEN
        IF jsonb_typeof(p_v) <> 'string'
           OR length(p_v #>> '{}') > 1000 THEN
            PERFORM mam_invalid(w || ': must be a string of at most 1000 '
                                || 'characters');
        END IF;
        RETURN p_v;
    WHEN 'number' THEN
        -- JSON has no NaN or infinities: a number is finite
        IF jsonb_typeof(p_v) <> 'number' THEN
            PERFORM mam_invalid(w || ': must be a number');
        END IF;
        IF abs((p_v #>> '{}')::numeric) >= 1e15 THEN
            PERFORM mam_invalid(w || ': must be below 1e15 in magnitude');
        END IF;
        RETURN to_jsonb(trim_scale(round((p_v #>> '{}')::numeric, 10)));
    WHEN 'date' THEN
        s := p_v #>> '{}';
        IF jsonb_typeof(p_v) <> 'string'
           OR s !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
            PERFORM mam_invalid(w || ': must be a date YYYY-MM-DD');
        END IF;
        BEGIN
            d := s::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format
                       OR data_exception THEN
            d := NULL;
        END;
        IF d IS NULL OR to_char(d, 'YYYY-MM-DD') <> s THEN
            PERFORM mam_invalid(w || ': ' || s || ' is not a date');
        END IF;
        RETURN p_v;
    WHEN 'choice' THEN
        IF jsonb_typeof(p_v) <> 'string'
           OR NOT (p_v #>> '{}') = ANY (f.choices) THEN
            PERFORM mam_invalid(w || ': must be one of its choices');
        END IF;
        RETURN p_v;
    WHEN 'multi_choice' THEN
        IF jsonb_typeof(p_v) <> 'array' OR jsonb_array_length(p_v) > 50 THEN
            PERFORM mam_invalid(w || ': must be an array of at most 50 '
                                || 'choices');
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_v) e
                    WHERE jsonb_typeof(e) <> 'string'
                       OR NOT (e #>> '{}') = ANY (f.choices)) THEN
            PERFORM mam_invalid(w || ': each value must be one of its '
                                || 'choices');
        END IF;
        SELECT coalesce(array_agg(DISTINCT e ORDER BY e), '{}') INTO a
          FROM (SELECT x COLLATE "C" AS e
                  FROM jsonb_array_elements_text(p_v) x) c;
        IF cardinality(a) <> jsonb_array_length(p_v) THEN
            PERFORM mam_invalid(w || ': the choices must be distinct');
        END IF;
        RETURN to_jsonb(a);
    ELSE    -- tags
        RETURN to_jsonb(mam_tags_norm(w, p_v));
    END CASE;
END
$$;

-- An asset's new fields and tags, checked against the fields of project
-- p_project; nothing is written.  p_fields: {name: value | null (remove)};
-- p_tags replaces the tags, p_add and p_remove change them.
-- Outcomes: ok (fields, tags), invalid (message).
CREATE OR REPLACE FUNCTION mam_asset_meta(p_project uuid, p_old_fields jsonb,
                                          p_old_tags text[], p_fields jsonb,
                                          p_tags jsonb, p_add jsonb,
                                          p_remove jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_fields  jsonb := p_old_fields;
    v_tags    text[] := p_old_tags;
    k         text;
    v         jsonb;
    f         project_fields;
BEGIN
    IF p_fields IS NOT NULL THEN
        IF jsonb_typeof(p_fields) <> 'object' THEN
            PERFORM mam_invalid('fields: must be an object');
        END IF;
        FOR k, v IN SELECT * FROM jsonb_each(p_fields) ORDER BY 1 LIMIT 101
        LOOP
            SELECT * INTO f FROM project_fields
             WHERE project_id = p_project AND name = k;
            IF NOT FOUND THEN
                PERFORM mam_invalid('fields.' || left(k, 40)
                                    || ': no such field in the project');
            END IF;
            IF jsonb_typeof(v) = 'null' THEN
                v_fields := v_fields - k;
            ELSE
                v_fields := v_fields || jsonb_build_object(k,
                                            mam_field_value(f, v));
            END IF;
        END LOOP;
    END IF;

    IF p_tags IS NOT NULL THEN
        v_tags := mam_tags_norm('tags', p_tags);
    END IF;
    IF p_add IS NOT NULL THEN
        SELECT array_agg(DISTINCT t ORDER BY t) INTO v_tags
          FROM (SELECT x COLLATE "C" AS t
                  FROM unnest(v_tags || mam_tags_norm('tags_add', p_add)) x) c;
        IF cardinality(v_tags) > 50 THEN
            PERFORM mam_invalid('tags_add: an asset has at most 50 tags');
        END IF;
    END IF;
    IF p_remove IS NOT NULL THEN
        v_tags := coalesce(array(SELECT t FROM unnest(v_tags) t
                                  WHERE t <> ALL (mam_tags_norm('tags_remove',
                                                                p_remove))
                                  ORDER BY t COLLATE "C"), '{}');
    END IF;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'fields', v_fields,
                              'tags', to_jsonb(coalesce(v_tags, '{}')));
EXCEPTION WHEN SQLSTATE 'MAM01' THEN
    RETURN mam_refusal('invalid'::mam_outcome, SQLERRM);
END
$$;

-- a field's project, for a change by one of its managers (or an admin)
-- Outcomes: ok (project_id), not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_field_for_change(p_id uuid, p_user uuid,
                                                p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_project  uuid;
    c          jsonb;
BEGIN
    SELECT project_id INTO v_project FROM project_fields WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    c := mam_project_for_change(v_project, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    PERFORM 1 FROM project_fields WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    RETURN c || jsonb_build_object('project_id', v_project);
END
$$;

-- GET /api/projects/:id/fields (members).  Outcomes: ok, not_found.
CREATE OR REPLACE FUNCTION mam_field_list(p_project uuid, p_user uuid,
                                          p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN mam_project_rank(p_project, p_user, p_admin) = 0
        THEN jsonb_build_object('outcome', 'not_found'::mam_outcome)
        ELSE jsonb_build_object('outcome', 'ok'::mam_outcome,
                 'items', (SELECT coalesce(jsonb_agg(mam_field_json(f)
                                   ORDER BY f.position, f.name), '[]')
                             FROM project_fields f
                            WHERE f.project_id = p_project)) END
$$;

-- POST /api/projects/:id/fields {name, label, kind, choices?, position?}
-- (managers, admins).  The module has checked name, label and kind.
-- Outcomes: ok, not_found, forbidden, invalid, taken, conflict (100).
CREATE OR REPLACE FUNCTION mam_field_create(p_project uuid, p_user uuid,
                                            p_admin boolean, p_name text,
                                            p_label text, p_kind text,
                                            p_choices jsonb,
                                            p_position integer, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    f          project_fields;
    v_choices  text[] := '{}';
BEGIN
    c := mam_project_for_change(p_project, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;

    IF p_kind IN ('choice', 'multi_choice') THEN
        IF p_choices IS NULL THEN
            RETURN mam_refusal('invalid'::mam_outcome,
                               'choices: required for a '
                                   || p_kind || ' field');
        END IF;
        v_choices := mam_choices_norm(p_choices);
    ELSIF p_choices IS NOT NULL THEN
        RETURN mam_refusal('invalid'::mam_outcome,
                           'choices: only for choice and '
                               || 'multi_choice fields');
    END IF;

    IF EXISTS (SELECT 1 FROM project_fields
                WHERE project_id = p_project AND name = p_name) THEN
        RETURN mam_refusal('taken'::mam_outcome,
                           'name: the project has a field '
                               || p_name || ' already');
    END IF;
    IF (SELECT count(*) FROM project_fields
         WHERE project_id = p_project) >= 100 THEN
        RETURN mam_refusal('conflict'::mam_outcome,
                           'a project has at most 100 fields');
    END IF;

    INSERT INTO project_fields (project_id, name, label, kind, choices,
                                position)
    VALUES (p_project, p_name, p_label, p_kind, v_choices,
            coalesce(p_position,
                     (SELECT coalesce(max(position) + 1, 0)
                        FROM project_fields WHERE project_id = p_project)))
    RETURNING * INTO f;

    PERFORM mam_audit(p_user, 'field_create', 'field', f.id::text, p_ip,
                      jsonb_build_object('project_id', p_project,
                                         'field', mam_field_json(f)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'field', mam_field_json(f));
EXCEPTION WHEN SQLSTATE 'MAM01' THEN
    RETURN mam_refusal('invalid'::mam_outcome, SQLERRM);
END
$$;

-- PATCH /api/fields/:id {label?, choices?, position?} (managers,
-- admins).  A choice that an asset of the project holds cannot go.
-- Outcomes: ok, not_found, forbidden, invalid, conflict.
CREATE OR REPLACE FUNCTION mam_field_update(p_id uuid, p_user uuid,
                                            p_admin boolean, p_label text,
                                            p_choices jsonb,
                                            p_position integer, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          jsonb;
    f          project_fields;
    v_old      project_fields;
    v_choices  text[];
    v_gone     text[];
    v_used     text;
BEGIN
    c := mam_field_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    SELECT * INTO v_old FROM project_fields WHERE id = p_id;

    IF p_choices IS NOT NULL THEN
        IF v_old.kind NOT IN ('choice', 'multi_choice') THEN
            RETURN mam_refusal('invalid'::mam_outcome,
                               'choices: only for choice and '
                                   || 'multi_choice fields');
        END IF;
        v_choices := mam_choices_norm(p_choices);
        v_gone := array(SELECT x FROM unnest(v_old.choices) x
                         WHERE x <> ALL (v_choices));
        SELECT g INTO v_used
          FROM unnest(v_gone) g
         WHERE EXISTS (SELECT 1 FROM assets a
                        WHERE a.project_id = v_old.project_id
                          AND (a.fields -> v_old.name = to_jsonb(g)
                               OR a.fields -> v_old.name
                                  @> jsonb_build_array(g)))
         ORDER BY g LIMIT 1;
        IF v_used IS NOT NULL THEN
            RETURN mam_refusal('conflict'::mam_outcome, 'choices: "' || v_used
                || '" is in use by assets; change their values first');
        END IF;
    END IF;

    UPDATE project_fields SET label = coalesce(p_label, label),
                              choices = coalesce(v_choices, choices),
                              position = coalesce(p_position, position),
                              updated_at = now()
     WHERE id = p_id
    RETURNING * INTO f;

    PERFORM mam_audit(p_user, 'field_update', 'field', p_id::text, p_ip,
                      jsonb_build_object('project_id', f.project_id,
                                         'before', mam_field_json(v_old),
                                         'after', mam_field_json(f)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'field', mam_field_json(f));
EXCEPTION WHEN SQLSTATE 'MAM01' THEN
    RETURN mam_refusal('invalid'::mam_outcome, SQLERRM);
END
$$;

-- DELETE /api/fields/:id (managers, admins): the values go from the
-- project's assets.  Outcomes: ok, not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_field_delete(p_id uuid, p_user uuid,
                                            p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    f  project_fields;
BEGIN
    c := mam_field_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    DELETE FROM project_fields WHERE id = p_id RETURNING * INTO f;
    UPDATE assets SET fields = fields - f.name
     WHERE project_id = f.project_id AND fields ? f.name;

    PERFORM mam_audit(p_user, 'field_delete', 'field', p_id::text, p_ip,
                      jsonb_build_object('project_id', f.project_id,
                                         'name', f.name, 'kind', f.kind));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- PATCH /api/assets {ids, fields?, tags_add?, tags_remove?}: all or
-- nothing.  Every asset is locked (in id order, so two bulk edits cannot
-- deadlock) and checked before the first is written: the first id the
-- caller may not change answers its refusal, naming it.
-- Outcomes: ok (items), invalid, not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_assets_bulk(p_user uuid, p_admin boolean,
                                           p_ids jsonb, p_fields jsonb,
                                           p_add jsonb, p_remove jsonb,
                                           p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_ids    uuid[];
    v_metas  jsonb[] := '{}';
    c        jsonb;
    a        assets;
    v_old    assets;
    i        integer;
    v_items  jsonb := '[]';
BEGIN
    IF jsonb_typeof(p_ids) IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_ids) NOT BETWEEN 1 AND 100
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_ids) e
                   WHERE jsonb_typeof(e) <> 'string'
                      OR (e #>> '{}')
                         !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
    THEN
        RETURN mam_refusal('invalid'::mam_outcome,
                           'ids: must be an array of 1 to 100 '
                               || 'asset ids');
    END IF;
    SELECT array_agg(e::uuid ORDER BY n) INTO v_ids
      FROM jsonb_array_elements_text(p_ids) WITH ORDINALITY AS x (e, n);
    IF cardinality(v_ids) <> (SELECT count(DISTINCT x) FROM unnest(v_ids) x)
    THEN
        RETURN mam_refusal('invalid'::mam_outcome, 'ids: each asset once');
    END IF;
    IF p_fields IS NULL AND p_add IS NULL AND p_remove IS NULL THEN
        RETURN mam_refusal('invalid'::mam_outcome,
                           'fields, tags_add or tags_remove: required');
    END IF;

    PERFORM 1 FROM assets WHERE id = ANY (v_ids) ORDER BY id FOR UPDATE;

    -- every check first: nothing is written unless all pass
    FOR i IN 1 .. cardinality(v_ids) LOOP
        c := mam_asset_for_change(v_ids[i], p_user, p_admin);
        IF c->>'outcome' = 'not_found' THEN
            RETURN mam_refusal('not_found'::mam_outcome,
                               'ids: asset ' || v_ids[i]
                                   || ': no such asset');
        ELSIF c->>'outcome' <> 'ok' THEN
            RETURN mam_refusal('forbidden'::mam_outcome,
                               'ids: asset ' || v_ids[i]
                                   || ': only the owner (an editor of its '
                                   || 'project), a manager of its project '
                                   || 'or an admin may change it');
        END IF;
        SELECT * INTO v_old FROM assets WHERE id = v_ids[i];
        c := mam_asset_meta(v_old.project_id, v_old.fields, v_old.tags,
                            p_fields, NULL, p_add, p_remove);
        IF c->>'outcome' <> 'ok' THEN
            RETURN mam_refusal('invalid'::mam_outcome,
                               'asset ' || v_ids[i] || ': '
                                   || (c->>'message'));
        END IF;
        v_metas := array_append(v_metas, c);
    END LOOP;

    FOR i IN 1 .. cardinality(v_ids) LOOP
        SELECT * INTO v_old FROM assets WHERE id = v_ids[i];
        UPDATE assets
           SET fields = v_metas[i]->'fields',
               tags = array(SELECT jsonb_array_elements_text(
                                       v_metas[i]->'tags'))
         WHERE id = v_ids[i]
        RETURNING * INTO a;
        PERFORM mam_audit(p_user, 'asset_update', 'asset', a.id::text, p_ip,
            jsonb_build_object('bulk', true,
                               'before', jsonb_build_object(
                                   'fields', v_old.fields,
                                   'tags', to_jsonb(v_old.tags)),
                               'after', jsonb_build_object(
                                   'fields', a.fields,
                                   'tags', to_jsonb(a.tags))));
        v_items := v_items || jsonb_build_array(mam_asset_json(a));
    END LOOP;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'items', v_items);
END
$$;

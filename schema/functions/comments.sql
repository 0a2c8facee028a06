-- Time-coded comments.  One function per write, as for assets; the list
-- is a static statement in the module (ngx_mam_module/ngx_mam_sql.h).

-- the `comment` object of api.md, with (issue 20) the frame and the
-- number of its version (null without a version): a version's number never
-- changes, so the item needs no trigger on versions
CREATE OR REPLACE FUNCTION mam_comment_json(c comments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'asset_id', c.asset_id, 'version_id', c.version_id,
        'version_number', (SELECT v.number FROM versions v
                            WHERE v.id = c.version_id),
        'user', (SELECT jsonb_build_object('id', u.id,
                                           'display_name', u.display_name)
                   FROM users u WHERE u.id = c.user_id),
        'timestamp_sec', c.timestamp_sec, 'frame', c.frame,
        'content', c.content, 'created_at', mam_time(c.created_at))
$$;

-- a frame that lies within one frame of timestamp_sec at the version's
-- measured frame rate (issue 20); anything goes while the rate is unknown
-- (no metadata yet, audio), and a comment without a frame has none
CREATE OR REPLACE FUNCTION mam_comment_frame_fits(p_frame integer,
                                                  p_ts numeric,
                                                  p_metadata jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_frame IS NULL
        OR jsonb_typeof(p_metadata->'frame_rate') IS DISTINCT FROM 'number'
        OR (p_metadata->>'frame_rate')::numeric <= 0
        OR abs(p_frame - p_ts * (p_metadata->>'frame_rate')::numeric) <= 1
$$;

-- Outcomes: ok (comment, event), not_found (also for a non-member of the
-- asset's project), forbidden (a viewer of it: commenting takes
-- commenter), bad_version (not of this asset), beyond (after the
-- version's known duration, with duration_sec), bad_frame (a frame more
-- than one frame away from timestamp_sec at the version's frame rate, with
-- frame_rate).  p_frame is the client's, never derived (023).
-- The event is published on mam:previews for the asset's event streams: the
-- comment's ids only, so a subscriber reads the comment itself through the
-- API with its own rights.
CREATE OR REPLACE FUNCTION mam_comment_create(p_asset uuid, p_user uuid,
                                              p_admin boolean,
                                              p_ts numeric, p_content text,
                                              p_version uuid, p_ip text,
                                              p_frame integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_version   versions;
    v_duration  numeric;
    v_project   uuid;
    v_rank      integer;
    c           comments;
BEGIN
    SELECT project_id INTO v_project FROM assets
     WHERE id = p_asset AND deleted_at IS NULL;
    v_rank := CASE WHEN FOUND THEN mam_project_rank(v_project, p_user, p_admin)
                   ELSE 0 END;
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 2 THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    IF p_version IS NOT NULL THEN
        SELECT * INTO v_version FROM versions
         WHERE id = p_version AND asset_id = p_asset;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'bad_version'::mam_outcome);
        END IF;
    ELSE
        SELECT * INTO v_version FROM versions WHERE asset_id = p_asset
         ORDER BY number DESC LIMIT 1;
    END IF;

    IF v_version.id IS NOT NULL
       AND jsonb_typeof(v_version.metadata->'duration_sec') = 'number' THEN
        v_duration := (v_version.metadata->>'duration_sec')::numeric;
        IF round(p_ts, 3) > v_duration THEN
            RETURN jsonb_build_object('outcome', 'beyond'::mam_outcome,
                                      'duration_sec', v_duration);
        END IF;
    END IF;

    IF NOT mam_comment_frame_fits(p_frame, round(p_ts, 3),
                                  v_version.metadata) THEN
        RETURN jsonb_build_object('outcome', 'bad_frame'::mam_outcome,
                                  'frame_rate',
                                  v_version.metadata->'frame_rate');
    END IF;

    INSERT INTO comments (asset_id, version_id, user_id, timestamp_sec,
                          content, frame)
    VALUES (p_asset, v_version.id, p_user, round(p_ts, 3), p_content,
            p_frame)
    RETURNING * INTO c;

    PERFORM mam_audit(p_user, 'comment_create', 'comment', c.id::text, p_ip,
                      jsonb_build_object('asset_id', p_asset,
                                         'version_id', v_version.id));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'comment', mam_comment_json(c),
                              'event', jsonb_build_object(
                                  'asset_id', c.asset_id,
                                  'project_id', v_project,
                                  'comment', jsonb_build_object(
                                      'id', c.id, 'version_id', c.version_id,
                                      'action', 'created')));
END
$$;

-- Outcomes: ok (event, as for create), not_found (also for a non-member
-- of the asset's project), forbidden (neither the author, still a
-- commenter there, nor a manager of the project nor an admin).
CREATE OR REPLACE FUNCTION mam_comment_delete(p_id uuid, p_user uuid,
                                              p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          comments;
    v_project  uuid;
    v_rank     integer;
BEGIN
    SELECT * INTO c FROM comments WHERE id = p_id FOR UPDATE;
    SELECT project_id INTO v_project FROM assets WHERE id = c.asset_id;
    v_rank := CASE WHEN c.id IS NULL THEN 0
                   ELSE mam_project_rank(v_project, p_user, p_admin) END;
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 4 AND NOT (v_rank >= 2 AND c.user_id = p_user) THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    DELETE FROM comments WHERE id = p_id;

    PERFORM mam_audit(p_user, 'comment_delete', 'comment', p_id::text, p_ip,
                      jsonb_build_object('asset_id', c.asset_id,
                                         'author', c.user_id));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'event', jsonb_build_object(
                                  'asset_id', c.asset_id,
                                  'project_id', v_project,
                                  'comment', jsonb_build_object(
                                      'id', c.id, 'version_id', c.version_id,
                                      'action', 'deleted')));
END
$$;

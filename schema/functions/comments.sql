-- Time-coded comments.  One function per write, as for assets; the list
-- is a static statement in the module (ngx_mam_module/ngx_mam_sql.h).

-- the `comment` object of api.md, with (issue 20) the frame and the
-- number of its version (null without a version): a version's number never
-- changes, so the item needs no trigger on versions.  Issue 21: the thread
-- (parent_id, reply_count: a first comment's replies, kept by
-- mam_comment_reply_changed), edited_at, the resolution (resolved_by,
-- resolved_at), the range (duration_sec, duration_frames) and the drawing
-- (annotation, as the module wrote it).  Issue 22: internal (members
-- only) and guest ({id, name}: the author when a guest of a review link
-- wrote it; user is then null).
CREATE OR REPLACE FUNCTION mam_comment_json(c comments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'asset_id', c.asset_id, 'version_id', c.version_id,
        'version_number', (SELECT v.number FROM versions v
                            WHERE v.id = c.version_id),
        'user', (SELECT jsonb_build_object('id', u.id,
                                           'display_name', u.display_name)
                   FROM users u WHERE u.id = c.user_id),
        'guest', (SELECT jsonb_build_object('id', g.id, 'name', g.name)
                    FROM share_guests g WHERE g.id = c.guest_id),
        'internal', c.internal,
        'timestamp_sec', c.timestamp_sec, 'frame', c.frame,
        'duration_sec', c.duration_sec, 'duration_frames', c.duration_frames,
        'content', c.content, 'annotation', c.annotation,
        'parent_id', c.parent_id,
        'reply_count', CASE WHEN c.parent_id IS NULL
                            THEN (SELECT count(*) FROM comments r
                                   WHERE r.parent_id = c.id)
                            ELSE 0 END,
        'resolved_by', (SELECT jsonb_build_object('id', u.id,
                                                  'display_name',
                                                  u.display_name)
                          FROM users u WHERE u.id = c.resolved_by),
        'resolved_at', mam_time(c.resolved_at),
        'edited_at', mam_time(c.edited_at),
        'created_at', mam_time(c.created_at))
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

-- the event of a comment's change on mam:previews: its ids only, so a
-- subscriber reads the comment itself through the API with its own rights
CREATE OR REPLACE FUNCTION mam_comment_event(c comments, p_project uuid,
                                             p_action text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'asset_id', c.asset_id, 'project_id', p_project,
        'comment', jsonb_build_object('id', c.id, 'version_id', c.version_id,
                                      'parent_id', c.parent_id,
                                      'action', p_action))
$$;

-- The comment written, for a member (p_user) or a guest of a review link
-- (p_guest; issue 22), whose right to comment on the asset the caller has
-- checked; p_version, if given, is one the caller may comment on.
-- Outcomes: ok (comment, event), bad_version (not of this asset),
-- beyond (after the version's known duration, with duration_sec; a range
-- that ends after it, with its own message), bad_frame (a frame more than
-- one frame away from timestamp_sec at the version's frame rate, with
-- frame_rate; or duration_frames from duration_sec, with its own
-- message), bad_parent (a parent that is no comment of this asset, or a
-- reply itself: threads are one level deep; for a guest, an internal
-- thread), conflict (a thread's 101st reply).  p_frame and p_frames are
-- the client's, never derived (023).  A reply (p_parent) takes only
-- content: the module refuses the other fields with it, and the reply has
-- its thread's version, time and frame, and is internal when its thread
-- is.  p_annotation is the module's canonical text
-- (libmam/mam_annotation.c).  Audited (comment_create; a guest's with
-- guest_id and share_id).
CREATE OR REPLACE FUNCTION mam_comment_write(p_asset uuid, p_project uuid,
                                             p_user uuid, p_guest uuid,
                                             p_internal boolean,
                                             p_ts numeric, p_content text,
                                             p_version uuid, p_ip text,
                                             p_frame integer,
                                             p_parent uuid,
                                             p_dur numeric,
                                             p_frames integer,
                                             p_annotation jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_version   versions;
    v_duration  numeric;
    p           comments;
    c           comments;
BEGIN
    IF p_parent IS NOT NULL THEN
        -- the thread is locked: its reply count holds, and it is not
        -- deleted under the reply
        SELECT * INTO p FROM comments
         WHERE id = p_parent AND asset_id = p_asset FOR UPDATE;
        -- a guest replies only to what a guest sees
        IF NOT FOUND OR (p_guest IS NOT NULL AND p.internal) THEN
            RETURN jsonb_build_object('outcome', 'bad_parent'::mam_outcome,
                       'message', 'parent_id: no such comment on this asset');
        END IF;
        IF p.parent_id IS NOT NULL THEN
            RETURN jsonb_build_object('outcome', 'bad_parent'::mam_outcome,
                       'message', 'parent_id: a reply cannot be replied to '
                                  '(threads are one level deep: reply to '
                                  'its thread''s first comment)');
        END IF;
        IF (SELECT count(*) FROM comments WHERE parent_id = p.id) >= 100 THEN
            RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome,
                       'message', 'a thread holds at most 100 replies');
        END IF;

        INSERT INTO comments (asset_id, version_id, user_id, guest_id,
                              internal, timestamp_sec, content, frame,
                              parent_id)
        VALUES (p_asset, p.version_id, p_user, p_guest,
                p_internal OR p.internal, p.timestamp_sec, p_content,
                p.frame, p.id)
        RETURNING * INTO c;
    ELSE
        IF p_version IS NOT NULL THEN
            SELECT * INTO v_version FROM versions
             WHERE id = p_version AND asset_id = p_asset;
            IF NOT FOUND THEN
                RETURN jsonb_build_object('outcome',
                                          'bad_version'::mam_outcome);
            END IF;
        ELSE
            SELECT * INTO v_version FROM versions WHERE asset_id = p_asset
             ORDER BY number DESC LIMIT 1;
        END IF;

        IF v_version.id IS NOT NULL
           AND jsonb_typeof(v_version.metadata->'duration_sec') = 'number'
        THEN
            v_duration := (v_version.metadata->>'duration_sec')::numeric;
            IF round(p_ts, 3) > v_duration THEN
                RETURN jsonb_build_object('outcome', 'beyond'::mam_outcome,
                                          'duration_sec', v_duration);
            END IF;
            IF round(p_ts, 3) + round(p_dur, 3) > v_duration THEN
                RETURN jsonb_build_object('outcome', 'beyond'::mam_outcome,
                           'message', format('duration_sec: the range must '
                                             'end by the version''s duration '
                                             '(%s s)', v_duration));
            END IF;
        END IF;

        IF NOT mam_comment_frame_fits(p_frame, round(p_ts, 3),
                                      v_version.metadata) THEN
            RETURN jsonb_build_object('outcome', 'bad_frame'::mam_outcome,
                                      'frame_rate',
                                      v_version.metadata->'frame_rate');
        END IF;
        -- a range's frames as its start frame (023)
        IF NOT mam_comment_frame_fits(p_frames, round(p_dur, 3),
                                      v_version.metadata) THEN
            RETURN jsonb_build_object('outcome', 'bad_frame'::mam_outcome,
                       'message', format('duration_frames: must be within '
                                         'one frame of duration_sec at the '
                                         'version''s frame rate (%s)',
                                         v_version.metadata->>'frame_rate'));
        END IF;

        INSERT INTO comments (asset_id, version_id, user_id, guest_id,
                              internal, timestamp_sec, content, frame,
                              duration_sec, duration_frames, annotation)
        VALUES (p_asset, v_version.id, p_user, p_guest, p_internal,
                round(p_ts, 3), p_content, p_frame, round(p_dur, 3),
                p_frames, p_annotation)
        RETURNING * INTO c;
    END IF;

    PERFORM mam_audit(p_user, 'comment_create', 'comment', c.id::text, p_ip,
                      jsonb_build_object('asset_id', p_asset,
                                         'version_id', c.version_id)
                      || CASE WHEN c.parent_id IS NULL THEN '{}'::jsonb
                              ELSE jsonb_build_object('parent_id',
                                                      c.parent_id) END
                      || CASE WHEN p_guest IS NULL THEN '{}'::jsonb
                              ELSE jsonb_build_object('guest_id', p_guest,
                                       'share_id',
                                       (SELECT g.share_id FROM share_guests g
                                         WHERE g.id = p_guest)) END
                      || CASE WHEN c.internal
                              THEN jsonb_build_object('internal', true)
                              ELSE '{}'::jsonb END);

    -- its mentions and the reply to its thread, in this transaction
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'comment', mam_comment_json(c),
                              'event', mam_comment_event(c, p_project,
                                                         'created'),
                              -- a guest's comment notifies nobody (a guest
                              -- is no member to name as the actor)
                              'notify', CASE WHEN c.user_id IS NOT NULL
                                        THEN mam_notify_comment(c, p_project,
                                                                NULL) END);
END
$$;

-- POST /api/assets/:id/comments: a member's comment (p_internal: for
-- members only, issue 22).  Outcomes: those of mam_comment_write, and
-- not_found (also for a non-member of the asset's project), forbidden (a
-- viewer of it: commenting takes commenter).
CREATE OR REPLACE FUNCTION mam_comment_create(p_asset uuid, p_user uuid,
                                              p_admin boolean,
                                              p_ts numeric, p_content text,
                                              p_version uuid, p_ip text,
                                              p_frame integer,
                                              p_parent uuid,
                                              p_dur numeric,
                                              p_frames integer,
                                              p_annotation jsonb,
                                              p_internal boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_project   uuid;
    v_rank      integer;
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

    RETURN mam_comment_write(p_asset, v_project, p_user, NULL,
                             coalesce(p_internal, false), p_ts, p_content,
                             p_version, p_ip, p_frame, p_parent, p_dur,
                             p_frames, p_annotation);
END
$$;

-- the comment p_id, locked, with its project and the caller's rank there
-- (0: none, or no such comment: not_found for the caller)
CREATE OR REPLACE FUNCTION mam_comment_for_change(p_id uuid, p_user uuid,
                                                  p_admin boolean,
                                                  OUT c comments,
                                                  OUT project_id uuid,
                                                  OUT owner_id uuid,
                                                  OUT rank integer)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO c FROM comments WHERE id = p_id FOR UPDATE;
    SELECT a.project_id, a.user_id INTO project_id, owner_id FROM assets a
     WHERE a.id = c.asset_id AND a.deleted_at IS NULL;
    rank := CASE WHEN c.id IS NULL OR project_id IS NULL THEN 0
                 ELSE mam_project_rank(project_id, p_user, p_admin) END;
END
$$;

-- PATCH /api/comments/:id {content}: the author alone (still a commenter
-- of the project); sets edited_at.  Outcomes: ok (comment, event),
-- not_found (also for a non-member), forbidden (anyone else, admins
-- included: a comment says what its author wrote).  The same content
-- again changes nothing (no edited_at, no audit, no event).
CREATE OR REPLACE FUNCTION mam_comment_update(p_id uuid, p_user uuid,
                                              p_admin boolean,
                                              p_content text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f       record;
    c       comments;
    before  text;
BEGIN
    SELECT * INTO f FROM mam_comment_for_change(p_id, p_user, p_admin);
    IF f.rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    c := f.c;
    IF f.rank < 2 OR c.user_id IS DISTINCT FROM p_user THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    IF c.content = p_content THEN
        RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                                  'comment', mam_comment_json(c));
    END IF;

    before := c.content;
    UPDATE comments SET content = p_content, edited_at = now()
     WHERE id = p_id RETURNING * INTO c;

    PERFORM mam_audit(p_user, 'comment_update', 'comment', p_id::text, p_ip,
                      jsonb_build_object('asset_id', c.asset_id,
                                         'before', before,
                                         'after', p_content));

    -- the members the edit newly mentions
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'comment', mam_comment_json(c),
                              'event', mam_comment_event(c, f.project_id,
                                                         'updated'),
                              'notify', mam_notify_comment(c, f.project_id,
                                                           before));
END
$$;

-- POST /api/comments/:id/resolve and /reopen (p_resolve false): a thread's
-- first comment, by its author or the asset's owner (each still a
-- commenter of the project), an editor or manager of it, or an admin.
-- Outcomes: ok (comment, event), not_found (also for a non-member),
-- forbidden, is_reply (a reply: its thread is resolved, on its first
-- comment).  A thread already so changes nothing (no audit, no event).
CREATE OR REPLACE FUNCTION mam_comment_resolve(p_id uuid, p_user uuid,
                                               p_admin boolean,
                                               p_resolve boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
    c  comments;
BEGIN
    SELECT * INTO f FROM mam_comment_for_change(p_id, p_user, p_admin);
    IF f.rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    c := f.c;
    IF f.rank < 3
       AND NOT (f.rank >= 2
                    -- a guest's comment has no user_id: IS TRUE keeps a
                    -- NULL from passing
                    AND (p_user = c.user_id OR p_user = f.owner_id) IS TRUE)
    THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;
    IF c.parent_id IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'is_reply'::mam_outcome);
    END IF;

    IF (c.resolved_at IS NOT NULL) = p_resolve THEN
        RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                                  'comment', mam_comment_json(c));
    END IF;

    UPDATE comments
       SET resolved_by = CASE WHEN p_resolve THEN p_user END,
           resolved_at = CASE WHEN p_resolve THEN now() END
     WHERE id = p_id RETURNING * INTO c;

    PERFORM mam_audit(p_user, CASE WHEN p_resolve THEN 'comment_resolve'
                                   ELSE 'comment_reopen' END,
                      'comment', p_id::text, p_ip,
                      jsonb_build_object('asset_id', c.asset_id));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'comment', mam_comment_json(c),
                              'event', mam_comment_event(c, f.project_id,
                                           CASE WHEN p_resolve
                                                THEN 'resolved'
                                                ELSE 'reopened' END));
END
$$;

-- Outcomes: ok (event, as for create), not_found (also for a non-member
-- of the asset's project), forbidden (neither the author, still a
-- commenter there, nor a manager of the project nor an admin).  A
-- thread's first comment goes with its replies (counted in the audit row).
CREATE OR REPLACE FUNCTION mam_comment_delete(p_id uuid, p_user uuid,
                                              p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c          comments;
    v_project  uuid;
    v_rank     integer;
    v_replies  bigint;
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

    SELECT count(*) INTO v_replies FROM comments WHERE parent_id = p_id;
    DELETE FROM comments WHERE id = p_id;

    PERFORM mam_audit(p_user, 'comment_delete', 'comment', p_id::text, p_ip,
                      jsonb_build_object('asset_id', c.asset_id,
                                         'author', c.user_id)
                      || CASE WHEN c.parent_id IS NOT NULL
                              THEN jsonb_build_object('parent_id',
                                                      c.parent_id)
                              WHEN v_replies > 0
                              THEN jsonb_build_object('replies', v_replies)
                              ELSE '{}'::jsonb END);

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'event', mam_comment_event(c, v_project,
                                                         'deleted'));
END
$$;

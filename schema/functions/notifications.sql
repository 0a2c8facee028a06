-- Notifications and @mentions (issue 21, schema 027).  The functions of
-- the acts (comments.sql, approvals.sql, assets.sql) call mam_notify_*
-- in their own transaction and answer what they wrote as "notify", which
-- the module publishes on mam:notify once the statement has committed
-- (ngx_mam_notifications.c); the event stream of each worker hands every
-- notification to its recipient's open streams only.

-- at most this many people are notified of one comment's mentions, and
-- the first 50 @ of a comment are read: a comment cannot page a project
CREATE OR REPLACE FUNCTION mam_mention_max() RETURNS integer
LANGUAGE sql IMMUTABLE AS 'SELECT 20';

-- The members of project p_project that p_content mentions, in the order
-- of their first mention, without p_actor: "@" (not inside a word, so an
-- e-mail address mentions nobody) followed by an active member's display
-- name in any case, ending at the end of the text or before a character
-- that is no letter, digit or _.  Where names overlap ("@Ann Lee" with
-- members "Ann" and "Ann Lee") the longest wins; members who share that
-- name are all mentioned.  A name of no member mentions nobody.
CREATE OR REPLACE FUNCTION mam_mentions(p_project uuid, p_content text,
                                        p_actor uuid) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(w.user_id ORDER BY w.first), '{}')
      FROM (SELECT u.id AS user_id, min(t.n) AS first
              FROM (SELECT m[1] AS rest, row_number() OVER () AS n
                      FROM regexp_matches(coalesce(p_content, ''),
                                          '(?<![[:alnum:]_])@([^@]{1,100})',
                                          'g') m
                     LIMIT 50) t
              CROSS JOIN LATERAL (
                  -- the longest name of a member the text goes on with
                  SELECT max(k) AS k
                    FROM generate_series(1, length(t.rest)) k
                   WHERE (k = length(t.rest)
                          OR substr(t.rest, k + 1, 1) !~ '[[:alnum:]_]')
                     AND EXISTS (SELECT 1 FROM users u
                                   JOIN project_members pm
                                     ON pm.project_id = p_project
                                    AND pm.user_id = u.id
                                  WHERE lower(u.display_name)
                                        = lower(left(t.rest, k))
                                    AND u.status = 'active')) b
              JOIN users u ON lower(u.display_name) = lower(left(t.rest, b.k))
                          AND u.status = 'active'
              JOIN project_members pm ON pm.project_id = p_project
                                     AND pm.user_id = u.id
             WHERE u.id <> p_actor
             GROUP BY u.id
             ORDER BY min(t.n)
             LIMIT mam_mention_max()) w
$$;

-- the `notification` object: {id, kind, asset_id, asset: {id, title},
-- version: {id, number} | null, comment: {id, parent_id, timestamp_sec,
-- frame, excerpt} | null, status (an approval's) | null, actor: {id,
-- display_name} | null, created_at, read_at}
CREATE OR REPLACE FUNCTION mam_notification_json(n notifications)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', n.id, 'kind', n.kind, 'asset_id', n.asset_id,
        'asset', (SELECT jsonb_build_object('id', a.id, 'title', a.title)
                    FROM assets a WHERE a.id = n.asset_id),
        'version', (SELECT jsonb_build_object('id', v.id, 'number', v.number)
                      FROM versions v
                     WHERE v.id = coalesce(n.version_id,
                                           (SELECT c.version_id
                                              FROM comments c
                                             WHERE c.id = n.comment_id))),
        'comment', (SELECT jsonb_build_object(
                               'id', c.id, 'parent_id', c.parent_id,
                               'timestamp_sec', c.timestamp_sec,
                               'frame', c.frame,
                               'excerpt', left(c.content, 140))
                      FROM comments c WHERE c.id = n.comment_id),
        'status', n.status,
        'actor', (SELECT jsonb_build_object('id', u.id,
                                            'display_name', u.display_name)
                    FROM users u WHERE u.id = n.actor_id),
        'created_at', mam_time(n.created_at),
        'read_at', mam_time(n.read_at))
$$;

-- whether p_user may still see the notification's asset (read time: a
-- member removed since, or an asset deleted since, hides it)
CREATE OR REPLACE FUNCTION mam_notification_visible(n notifications,
                                                    p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM assets a
                    WHERE a.id = n.asset_id AND a.deleted_at IS NULL
                      AND (p_admin
                           OR EXISTS (SELECT 1 FROM project_members m
                                       WHERE m.project_id = a.project_id
                                         AND m.user_id = n.user_id)))
$$;

-- Writes one notification of p_kind for each of p_users but the actor
-- (each once), and answers them as [{user_id, notification}] for the
-- module to publish.  The callers pass members of the asset's project.
CREATE OR REPLACE FUNCTION mam_notify(p_kind text, p_users uuid[],
                                      p_asset uuid, p_version uuid,
                                      p_comment uuid, p_actor uuid,
                                      p_status text) RETURNS jsonb
LANGUAGE sql AS $$
    WITH added AS (
        INSERT INTO notifications (user_id, kind, asset_id, version_id,
                                   comment_id, actor_id, status)
        SELECT DISTINCT u, p_kind, p_asset, p_version, p_comment, p_actor,
               p_status
          FROM unnest(p_users) u
         WHERE u IS NOT NULL AND u IS DISTINCT FROM p_actor
        RETURNING *)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'user_id', n.user_id,
               'notification', mam_notification_json(n))), '[]')
      FROM added n
$$;

-- the message of mam:notify: {project_id, to: [{user_id, notification}]},
-- or NULL when nobody is notified
CREATE OR REPLACE FUNCTION mam_notify_message(p_project uuid, p_to jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_array_length(p_to) > 0
                THEN jsonb_build_object('project_id', p_project, 'to', p_to)
           END
$$;

-- A comment written (p_before NULL) or edited (p_before its old text):
-- the members it newly mentions get "mention"; a reply's thread author,
-- unless mentioned, gets "reply" (still a member who may read it).
CREATE OR REPLACE FUNCTION mam_notify_comment(c comments, p_project uuid,
                                              p_before text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_mentioned  uuid[];
    v_author     uuid;
    v_to         jsonb;
BEGIN
    v_mentioned := ARRAY(SELECT u FROM unnest(mam_mentions(p_project,
                                                           c.content,
                                                           c.user_id)) u
                         EXCEPT
                         SELECT u FROM unnest(mam_mentions(p_project,
                                                           p_before,
                                                           c.user_id)) u);
    v_to := mam_notify('mention', v_mentioned, c.asset_id, NULL, c.id,
                       c.user_id, NULL);

    IF c.parent_id IS NOT NULL AND p_before IS NULL THEN
        SELECT p.user_id INTO v_author FROM comments p
          JOIN project_members m ON m.project_id = p_project
                                AND m.user_id = p.user_id
         WHERE p.id = c.parent_id;
        IF v_author IS NOT NULL AND v_author <> ALL (v_mentioned) THEN
            v_to := v_to || mam_notify('reply', ARRAY[v_author], c.asset_id,
                                       NULL, c.id, c.user_id, NULL);
        END IF;
    END IF;

    RETURN mam_notify_message(p_project, v_to);
END
$$;

-- A version's approval changed (the same status again with no note is
-- not news): the asset's owner, while a member, hears of it.
CREATE OR REPLACE FUNCTION mam_notify_approval(v versions, p_project uuid,
                                               p_owner uuid, p_actor uuid,
                                               p_before text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT mam_notify_message(p_project,
               CASE WHEN v.approval IS DISTINCT FROM p_before
                         OR v.approval_note IS NOT NULL
                    THEN mam_notify('approval',
                             ARRAY(SELECT m.user_id FROM project_members m
                                    WHERE m.project_id = p_project
                                      AND m.user_id = p_owner),
                             v.asset_id, v.id, NULL, p_actor, v.approval)
                    ELSE '[]'::jsonb END)
$$;

-- A new version: whoever commented on the asset (its first 1000 such
-- members) hears of it, but the one who made it.
CREATE OR REPLACE FUNCTION mam_notify_version(v versions, p_actor uuid)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT mam_notify_message(a.project_id,
               mam_notify('version',
                   ARRAY(SELECT DISTINCT c.user_id FROM comments c
                           JOIN project_members m
                             ON m.project_id = a.project_id
                            AND m.user_id = c.user_id
                          WHERE c.asset_id = v.asset_id
                          LIMIT 1000),
                   v.asset_id, v.id, NULL, p_actor, NULL))
      FROM assets a WHERE a.id = v.asset_id
$$;

-- POST /api/notifications/:id/read: the caller's own notification, while
-- they may see its asset.  Outcomes: ok (notification), not_found.
CREATE OR REPLACE FUNCTION mam_notification_read(p_id uuid, p_user uuid,
                                                 p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n  notifications;
BEGIN
    SELECT * INTO n FROM notifications
     WHERE id = p_id AND user_id = p_user FOR UPDATE;
    IF NOT FOUND OR NOT mam_notification_visible(n, p_admin) THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;

    IF n.read_at IS NULL THEN
        UPDATE notifications SET read_at = now() WHERE id = p_id
        RETURNING * INTO n;
    END IF;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'notification', mam_notification_json(n));
END
$$;

-- POST /api/notifications/read-all: every unread notification of the
-- caller (those of assets they no longer see too: nothing is revealed by
-- marking them).  Outcome: ok.
CREATE OR REPLACE FUNCTION mam_notifications_read_all(p_user uuid)
RETURNS jsonb LANGUAGE sql AS $$
    WITH marked AS (
        UPDATE notifications SET read_at = now()
         WHERE user_id = p_user AND read_at IS NULL
        RETURNING 1)
    SELECT jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'marked', (SELECT count(*) FROM marked))
$$;

-- GET /api/projects/:id/members?q=: the members whose display name, or a
-- word of it, begins with q (any case), for @-completion; the first 10 by
-- name.  Members only (404 for others), active accounts only.
-- Outcomes: ok (items: [{id, display_name}]), not_found.
CREATE OR REPLACE FUNCTION mam_member_find(p_project uuid, p_user uuid,
                                           p_admin boolean, p_q text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN mam_project_rank(p_project, p_user, p_admin) = 0
           THEN jsonb_build_object('outcome', 'not_found'::mam_outcome)
           ELSE jsonb_build_object('outcome', 'ok'::mam_outcome,
               'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                          'id', f.id,
                                          'display_name', f.display_name)
                                         ORDER BY lower(f.display_name), f.id)
                                    FROM (SELECT u.id, u.display_name
                                            FROM project_members m
                                            JOIN users u ON u.id = m.user_id
                                           WHERE m.project_id = p_project
                                             AND u.status = 'active'
                                             AND (starts_with(
                                                      lower(u.display_name),
                                                      lower(coalesce(p_q, '')))
                                                  OR strpos(
                                                      lower(u.display_name),
                                                      ' ' || lower(p_q)) > 0)
                                           ORDER BY lower(u.display_name),
                                                    u.id
                                           LIMIT 10) f),
                                 '[]'::jsonb))
           END
$$;

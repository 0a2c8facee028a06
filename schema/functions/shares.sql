-- Review links (issue 22; tables of 029).  Members who may share (an
-- editor or manager of the project, or an admin: rank 3 and above) make,
-- list, change and revoke a project's links; a non-member is answered
-- not_found, a viewer or commenter forbidden.  A guest reaches a link by
-- the SHA-256 of its token (p_token: the module hashes the path's token)
-- and, past the passphrase and the name, by the SHA-256 of the session
-- cookie (p_session): every guest function starts with mam_share_guest().
-- A link that expired or was revoked is gone (410) at once.

-- the `share` object of the members' API (guests: with p_guests, the
-- newest 100 guests and their activity)
CREATE OR REPLACE FUNCTION mam_share_json(s shares, p_guests boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', s.id, 'project_id', s.project_id,
        'asset_ids', to_jsonb(s.asset_ids), 'folder_id', s.folder_id,
        'version', coalesce(s.version_id::text, 'latest'),
        'expires_at', mam_time(s.expires_at),
        'passphrase', s.passphrase_hash IS NOT NULL,
        'allow_comments', s.allow_comments,
        'allow_download', s.allow_download,
        'allow_approval', s.allow_approval,
        'show_all_versions', s.show_all_versions,
        'status', mam_share_status(s),
        'revoked_at', mam_time(s.revoked_at),
        'views', s.view_count, 'last_view_at', mam_time(s.last_view_at),
        'guest_count', (SELECT count(*) FROM share_guests g
                         WHERE g.share_id = s.id),
        'created_by', (SELECT jsonb_build_object('id', u.id,
                                                 'display_name',
                                                 u.display_name)
                         FROM users u WHERE u.id = s.created_by),
        'created_at', mam_time(s.created_at),
        'updated_at', mam_time(s.updated_at))
        || CASE WHEN p_guests THEN jsonb_build_object('guests',
               coalesce((SELECT jsonb_agg(mam_share_guest_json(g, true)
                                          ORDER BY g.last_seen_at DESC, g.id)
                           FROM (SELECT * FROM share_guests
                                  WHERE share_id = s.id
                                  ORDER BY last_seen_at DESC, id
                                  LIMIT 100) g), '[]'::jsonb))
                ELSE '{}'::jsonb END
$$;

-- active, expired or revoked
CREATE OR REPLACE FUNCTION mam_share_status(s shares) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN s.revoked_at IS NOT NULL THEN 'revoked'
                WHEN s.expires_at <= now() THEN 'expired'
                ELSE 'active' END
$$;

-- a guest: {id, name} for guests, with e-mail and activity for members
CREATE OR REPLACE FUNCTION mam_share_guest_json(g share_guests,
                                                p_activity boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', g.id, 'name', g.name, 'email', g.email)
        || CASE WHEN p_activity THEN jsonb_build_object(
               'first_seen_at', mam_time(g.first_seen_at),
               'last_seen_at', mam_time(g.last_seen_at),
               'views', g.views, 'comments', g.comments,
               'approvals', g.approvals)
           ELSE '{}'::jsonb END
$$;

-- the live assets a link shows: its set, or its folder's assets now
CREATE OR REPLACE FUNCTION mam_share_assets(s shares) RETURNS SETOF assets
LANGUAGE sql STABLE AS $$
    SELECT a.* FROM assets a
     WHERE a.project_id = s.project_id AND a.deleted_at IS NULL
       AND (a.id = ANY (s.asset_ids) OR a.folder_id = s.folder_id)
     ORDER BY a.title, a.id
     LIMIT 100
$$;

-- the versions a link shows of one of its assets: every version
-- (show_all_versions), else the pinned one, else the latest
CREATE OR REPLACE FUNCTION mam_share_versions(s shares, p_asset uuid)
RETURNS SETOF versions LANGUAGE sql STABLE AS $$
    SELECT v.* FROM versions v
     WHERE v.asset_id = p_asset
       AND (s.show_all_versions
            OR v.id = coalesce(s.version_id,
                               (SELECT l.id FROM versions l
                                 WHERE l.asset_id = p_asset
                                 ORDER BY l.number DESC LIMIT 1)))
     ORDER BY v.number DESC
$$;

-- whether a link shows the asset (and, given, that version of it)
CREATE OR REPLACE FUNCTION mam_share_shows(s shares, p_asset uuid,
                                           p_version uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM mam_share_assets(s) a WHERE a.id = p_asset)
       AND (p_version IS NULL
            OR EXISTS (SELECT 1 FROM mam_share_versions(s, p_asset) v
                        WHERE v.id = p_version))
$$;


-- --- members --------------------------------------------------------------

-- who may share in a project: an editor or manager (rank 3 and above)
-- or an admin: ok; a viewer or commenter forbidden; anyone else (or no
-- project) not_found
CREATE OR REPLACE FUNCTION mam_share_right(p_project uuid, p_user uuid,
                                           p_admin boolean)
RETURNS mam_outcome LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN r = 0 THEN 'not_found'::mam_outcome
                WHEN r < 3 THEN 'forbidden'::mam_outcome
                ELSE 'ok'::mam_outcome END
      FROM (SELECT CASE WHEN p_project IS NULL THEN 0
                        ELSE mam_project_rank(p_project, p_user, p_admin)
                   END AS r) x
$$;

-- the link p_id, locked, for who may share in its project; outcome
-- not_found (no such link, or not a member), forbidden, ok
CREATE OR REPLACE FUNCTION mam_share_for_member(p_id uuid, p_user uuid,
                                                p_admin boolean,
                                                OUT s shares,
                                                OUT outcome mam_outcome)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO s FROM shares WHERE id = p_id FOR UPDATE;
    outcome := mam_share_right(s.project_id, p_user, p_admin);
END
$$;

-- POST /api/shares: a link to assets of one project (p_assets) or to a
-- folder (p_folder), by an editor or manager of that project or an
-- admin.  p_version: NULL (latest) or a version of the link's one asset.
-- p_token: the SHA-256 of the token the module made; p_pass: the
-- passphrase's Argon2id hash, or NULL.  Outcomes: ok (share), not_found
-- (an asset or folder that is none, or not the caller's to see),
-- forbidden (a viewer or commenter), invalid (with message: assets of
-- several projects, a version with several assets, an expiry past),
-- bad_version (not a version of the asset).  Audited (share_create).
CREATE OR REPLACE FUNCTION mam_share_create(p_user uuid, p_admin boolean,
                                            p_assets uuid[], p_folder uuid,
                                            p_version uuid,
                                            p_expires timestamptz,
                                            p_pass text,
                                            p_comments boolean,
                                            p_download boolean,
                                            p_approval boolean,
                                            p_all boolean, p_token text,
                                            p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_project  uuid;
    v_count    integer;
    v_right    mam_outcome;
    s          shares;
BEGIN
    IF (p_assets IS NULL) = (p_folder IS NULL) THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                   'message', 'give asset_ids or folder_id (one of them)');
    END IF;

    IF p_folder IS NOT NULL THEN
        SELECT project_id INTO v_project FROM folders WHERE id = p_folder;
    ELSE
        -- every asset live and the caller's to see, else not_found (an
        -- asset of a project the caller is not in is not revealed)
        SELECT min(a.project_id::text)::uuid, count(DISTINCT a.project_id)
          INTO v_project, v_count
          FROM assets a WHERE a.id = ANY (p_assets) AND a.deleted_at IS NULL
                          AND mam_project_rank(a.project_id, p_user,
                                               p_admin) > 0;
        IF (SELECT count(*) FROM assets a
             WHERE a.id = ANY (p_assets) AND a.deleted_at IS NULL
               AND mam_project_rank(a.project_id, p_user, p_admin) > 0)
           <> cardinality(ARRAY(SELECT DISTINCT unnest(p_assets)))
        THEN
            RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
        END IF;
        IF v_count > 1 THEN
            RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                       'message', 'asset_ids: must all be in one project');
        END IF;
    END IF;

    v_right := mam_share_right(v_project, p_user, p_admin);
    IF v_right <> 'ok' THEN
        RETURN mam_share_refusal(v_right);
    END IF;

    IF p_version IS NOT NULL THEN
        IF p_folder IS NOT NULL
           OR cardinality(ARRAY(SELECT DISTINCT unnest(p_assets))) <> 1
        THEN
            RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                       'message', 'version: a version is pinned on a link '
                                  'to one asset');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM versions
                        WHERE id = p_version AND asset_id = p_assets[1]) THEN
            RETURN jsonb_build_object('outcome', 'bad_version'::mam_outcome);
        END IF;
    END IF;

    IF p_expires <= now() THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                   'message', 'expires_at: must be in the future');
    END IF;

    INSERT INTO shares (project_id, created_by, token_hash, asset_ids,
                        folder_id, version_id, expires_at, passphrase_hash,
                        allow_comments, allow_download, allow_approval,
                        show_all_versions)
    VALUES (v_project, p_user, p_token,
            CASE WHEN p_assets IS NOT NULL
                 THEN ARRAY(SELECT DISTINCT unnest(p_assets)) END,
            p_folder, p_version,
            p_expires, p_pass, p_comments, p_download, p_approval, p_all)
    RETURNING * INTO s;

    PERFORM mam_audit(p_user, 'share_create', 'share', s.id::text, p_ip,
                      jsonb_build_object('project_id', v_project,
                                         'asset_ids', to_jsonb(s.asset_ids),
                                         'folder_id', p_folder,
                                         'expires_at', mam_time(p_expires),
                                         'passphrase', p_pass IS NOT NULL));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'share', mam_share_json(s, false));
END
$$;

-- GET /api/shares?project=: a page of the project's links, newest first,
-- after the link p_after (the previous page's next_cursor), for its
-- editors and managers and admins.  Outcomes: ok (items, next_cursor),
-- not_found (not a member), forbidden (a viewer or commenter).
CREATE OR REPLACE FUNCTION mam_share_list(p_project uuid, p_user uuid,
                                          p_admin boolean, p_limit integer,
                                          p_after uuid)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_right  mam_outcome;
    v_after  shares;
    v_items  jsonb;
    v_ids    uuid[];
BEGIN
    v_right := mam_share_right(p_project, p_user, p_admin);
    IF v_right <> 'ok' THEN
        RETURN mam_share_refusal(v_right);
    END IF;

    IF p_after IS NOT NULL THEN
        SELECT * INTO v_after FROM shares
         WHERE id = p_after AND project_id = p_project;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                       'message', 'cursor: not a cursor of this project''s '
                                  'links');
        END IF;
    END IF;

    SELECT coalesce(jsonb_agg(mam_share_json(s, false)
                              ORDER BY s.created_at DESC, s.id DESC), '[]'),
           array_agg(s.id ORDER BY s.created_at DESC, s.id DESC)
      INTO v_items, v_ids
      FROM (SELECT * FROM shares
             WHERE project_id = p_project
               AND (p_after IS NULL
                    OR (created_at, id) < (v_after.created_at, v_after.id))
             ORDER BY created_at DESC, id DESC
             LIMIT p_limit + 1) s;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
               'items', CASE WHEN jsonb_array_length(v_items) > p_limit
                             THEN v_items - p_limit ELSE v_items END,
               'next_cursor', CASE WHEN cardinality(v_ids) > p_limit
                                   THEN v_ids[p_limit] END);
END
$$;

-- GET /api/shares/:id: the link with its guests.  Outcomes: ok (share),
-- not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_share_get(p_id uuid, p_user uuid,
                                         p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
BEGIN
    SELECT * INTO f FROM mam_share_for_member(p_id, p_user, p_admin);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'share', mam_share_json(f.s, true));
END
$$;

-- PATCH /api/shares/:id: what is given changes (NULL: unchanged).
-- p_expires: '' for none; p_pass: '' removes the passphrase, else its new
-- hash.  A revoked link stays revoked.  Outcomes: ok (share), not_found,
-- forbidden, gone (revoked), invalid (an expiry past).  Audited
-- (share_update, with the fields changed).
CREATE OR REPLACE FUNCTION mam_share_update(p_id uuid, p_user uuid,
                                            p_admin boolean, p_expires text,
                                            p_pass text, p_comments boolean,
                                            p_download boolean,
                                            p_approval boolean,
                                            p_all boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f        record;
    s        shares;
    v_exp    timestamptz;
BEGIN
    SELECT * INTO f FROM mam_share_for_member(p_id, p_user, p_admin);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    s := f.s;
    IF s.revoked_at IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'gone'::mam_outcome);
    END IF;

    v_exp := CASE WHEN p_expires IS NULL THEN s.expires_at
                  WHEN p_expires = '' THEN NULL
                  ELSE p_expires::timestamptz END;
    IF p_expires <> '' AND v_exp <= now() THEN
        RETURN jsonb_build_object('outcome', 'invalid'::mam_outcome,
                   'message', 'expires_at: must be in the future');
    END IF;

    UPDATE shares
       SET expires_at = v_exp,
           passphrase_hash = CASE WHEN p_pass IS NULL THEN passphrase_hash
                                  ELSE nullif(p_pass, '') END,
           allow_comments = coalesce(p_comments, allow_comments),
           allow_download = coalesce(p_download, allow_download),
           allow_approval = coalesce(p_approval, allow_approval),
           show_all_versions = coalesce(p_all, show_all_versions),
           updated_at = now()
     WHERE id = p_id RETURNING * INTO s;

    PERFORM mam_audit(p_user, 'share_update', 'share', p_id::text, p_ip,
                      jsonb_strip_nulls(jsonb_build_object(
                          'project_id', s.project_id,
                          'expires_at', CASE WHEN p_expires IS NOT NULL
                                             THEN to_jsonb(mam_time(v_exp))
                                        END,
                          'passphrase', CASE WHEN p_pass IS NOT NULL
                                             THEN to_jsonb(p_pass <> '') END,
                          'allow_comments', p_comments,
                          'allow_download', p_download,
                          'allow_approval', p_approval,
                          'show_all_versions', p_all)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'share', mam_share_json(s, false));
END
$$;

-- DELETE /api/shares/:id: revoked at once (every guest request after it
-- is answered 410; the guests' sessions end with it).  Revoking again
-- changes nothing.  Outcomes: ok, not_found, forbidden.  Audited
-- (share_revoke).
CREATE OR REPLACE FUNCTION mam_share_revoke(p_id uuid, p_user uuid,
                                            p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
BEGIN
    SELECT * INTO f FROM mam_share_for_member(p_id, p_user, p_admin);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    IF (f.s).revoked_at IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                                  'epochs', '[]'::jsonb);
    END IF;
    UPDATE shares SET revoked_at = now(), updated_at = now()
     WHERE id = p_id;
    PERFORM mam_audit(p_user, 'share_revoke', 'share', p_id::text, p_ip,
                      jsonb_build_object('project_id', (f.s).project_id));
    -- the playback URLs its guests were handed stop too (README, Edge:
    -- revocation): the play epochs of its assets that were played lately
    -- go up, which stops the members' URLs of those assets as well (their
    -- players sign again)
    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
               'epochs', mam_play_revoke(ARRAY(SELECT a.id
                                                 FROM mam_share_assets(f.s) a)));
END
$$;


-- --- guests ---------------------------------------------------------------

-- The link of p_token and the guest of p_session on it (and, given, the
-- asset p_asset that the link must show).  outcome: not_found (no such
-- link, or an asset it does not show), gone (expired or revoked),
-- no_session (no guest of this link with that session: the passphrase
-- and name first), ok.  The guest's row is locked for the activity it
-- records.
CREATE OR REPLACE FUNCTION mam_share_guest(p_token text, p_session text,
                                           p_asset uuid,
                                           OUT s shares,
                                           OUT g share_guests,
                                           OUT outcome mam_outcome)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO s FROM shares WHERE token_hash = p_token;
    IF s.id IS NULL THEN
        outcome := 'not_found'::mam_outcome;
        RETURN;
    END IF;
    IF mam_share_status(s) <> 'active' THEN
        outcome := 'gone'::mam_outcome;
        RETURN;
    END IF;
    SELECT * INTO g FROM share_guests
     WHERE session_hash = p_session AND share_id = s.id FOR UPDATE;
    outcome := CASE WHEN g.id IS NULL THEN 'no_session'::mam_outcome
                    WHEN p_asset IS NOT NULL
                         AND NOT mam_share_shows(s, p_asset, NULL)
                    THEN 'not_found'::mam_outcome
                    ELSE 'ok'::mam_outcome END;
END
$$;

-- the refusal for mam_share_guest()'s or mam_share_for_member()'s outcome
CREATE OR REPLACE FUNCTION mam_share_refusal(p_outcome mam_outcome)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('outcome', p_outcome::mam_outcome)
$$;

-- POST /api/r/{token}/session, first step: whether the link has a
-- passphrase (its hash, for the module to verify on its thread pool).
-- Outcomes: ok (passphrase_hash or null), not_found, gone.
CREATE OR REPLACE FUNCTION mam_share_passphrase(p_token text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT CASE WHEN mam_share_status(s) <> 'active'
                     THEN jsonb_build_object('outcome', 'gone'::mam_outcome)
                     ELSE jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'passphrase_hash', s.passphrase_hash) END
           FROM shares s WHERE s.token_hash = p_token),
        jsonb_build_object('outcome', 'not_found'::mam_outcome))
$$;

-- POST /api/r/{token}/session, second step (the passphrase, if any, is
-- right): a guest of the link with the session p_session.  Outcomes: ok
-- (guest, max_age: the cookie's seconds, to the link's expiry and at most
-- 30 days), not_found, gone, conflict (the link's 1000th guest).
-- Audited (share_guest).
CREATE OR REPLACE FUNCTION mam_share_session(p_token text, p_session text,
                                             p_name text, p_email text,
                                             p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s  shares;
    g  share_guests;
BEGIN
    SELECT * INTO s FROM shares WHERE token_hash = p_token FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF mam_share_status(s) <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'gone'::mam_outcome);
    END IF;
    IF (SELECT count(*) FROM share_guests WHERE share_id = s.id) >= 1000 THEN
        RETURN jsonb_build_object('outcome', 'conflict'::mam_outcome,
                   'message', 'this link has had its 1000 guests');
    END IF;

    INSERT INTO share_guests (share_id, name, email, session_hash)
    VALUES (s.id, p_name, nullif(p_email, ''), p_session)
    RETURNING * INTO g;

    PERFORM mam_audit(NULL, 'share_guest', 'share', s.id::text, p_ip,
                      jsonb_build_object('project_id', s.project_id,
                                         'guest_id', g.id,
                                         'name', g.name));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
               'guest', mam_share_guest_json(g, false),
               'max_age', floor(least(2592000,
                                      coalesce(extract(epoch FROM
                                                   s.expires_at - now()),
                                               2592000))));
END
$$;

-- THE place where a guest's view of a link is recorded (views, last
-- view, the guest's activity, the audit row share_view, and the webhooks'
-- share.viewed event, written in the same transaction).
CREATE OR REPLACE FUNCTION mam_share_viewed(s shares, g share_guests,
                                            p_ip text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE shares SET view_count = view_count + 1, last_view_at = now()
     WHERE id = s.id;
    UPDATE share_guests SET views = views + 1, last_seen_at = now()
     WHERE id = g.id;
    PERFORM mam_audit(NULL, 'share_view', 'share', s.id::text, p_ip,
                      jsonb_build_object('project_id', s.project_id,
                                         'guest_id', g.id,
                                         'name', g.name));
    PERFORM mam_webhook_event('share.viewed', s.project_id,
                              jsonb_build_object('share_id', s.id,
                                                 'guest_id', g.id,
                                                 'guest_name', g.name,
                                                 'views', s.view_count + 1));
END
$$;

-- a version as a guest sees it: no storage key, no uploader
CREATE OR REPLACE FUNCTION mam_share_version_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'asset_id', v.asset_id, 'number', v.number,
        'metadata', v.metadata, 'preview', mam_preview_json(v),
        'approval', mam_approval_json(v) - 'user'
                    || jsonb_build_object('user',
                           (SELECT jsonb_build_object('display_name',
                                                      u.display_name)
                              FROM users u WHERE u.id = v.approval_by)),
        'created_at', mam_time(v.created_at))
$$;

-- GET /api/r/{token}: the link as its guest sees it, a view recorded
-- (mam_share_viewed).  Without a session: ok with the passphrase's
-- presence only and guest null (the page asks for it and the name).
-- Outcomes: ok (view), not_found, gone.
CREATE OR REPLACE FUNCTION mam_share_open(p_token text, p_session text,
                                          p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, NULL);
    IF f.outcome = 'no_session' THEN
        RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                   'view', jsonb_build_object(
                       'passphrase', (f.s).passphrase_hash IS NOT NULL,
                       'expires_at', mam_time((f.s).expires_at),
                       'guest', NULL));
    END IF;
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;

    PERFORM mam_share_viewed(f.s, f.g, p_ip);

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
        'view', jsonb_build_object(
            'passphrase', (f.s).passphrase_hash IS NOT NULL,
            'expires_at', mam_time((f.s).expires_at),
            'guest', mam_share_guest_json(f.g, false),
            'allow_comments', (f.s).allow_comments,
            'allow_download', (f.s).allow_download,
            'allow_approval', (f.s).allow_approval,
            'show_all_versions', (f.s).show_all_versions,
            'assets', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                    'id', a.id, 'title', a.title,
                                    'description', a.description,
                                    'versions',
                                    (SELECT coalesce(jsonb_agg(
                                                mam_share_version_json(v)
                                                ORDER BY v.number DESC),
                                            '[]')
                                       FROM mam_share_versions(f.s, a.id) v))
                                    ORDER BY a.title, a.id)
                                  FROM mam_share_assets(f.s) a),
                               '[]'::jsonb)));
END
$$;

-- GET /api/r/{token}/assets/:id/comments: the comments a guest may see
-- on an asset of the link: of the versions it shows, never internal ones
-- (nor the replies of an internal thread), threads in time order each
-- followed by its replies; at most 500 threads.  Outcomes: ok (items),
-- not_found (also an asset the link does not show), gone, no_session.
CREATE OR REPLACE FUNCTION mam_share_comments(p_token text, p_session text,
                                              p_asset uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, p_asset);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
        'items', coalesce((
            SELECT jsonb_agg(c.item::jsonb
                             ORDER BY t.timestamp_sec, t.created_at, t.id,
                                      c.parent_id NULLS FIRST, c.created_at,
                                      c.id)
              FROM (SELECT * FROM comments x
                     WHERE x.asset_id = p_asset AND x.parent_id IS NULL
                       AND NOT x.internal
                       AND x.version_id IN (SELECT v.id FROM
                                            mam_share_versions(f.s, p_asset) v)
                     ORDER BY x.timestamp_sec, x.created_at, x.id
                     LIMIT 500) t
              JOIN comments c ON (c.id = t.id OR c.parent_id = t.id)
                             AND NOT c.internal), '[]'::jsonb));
END
$$;

-- POST /api/r/{token}/assets/:id/comments: a guest's comment, where the
-- link allows comments, on a version it shows (none given: the latest it
-- shows); never internal.  Outcomes: those of mam_comment_write, and
-- not_found (an asset the link does not show), gone, no_session,
-- forbidden (the link allows no comments).
CREATE OR REPLACE FUNCTION mam_share_comment(p_token text, p_session text,
                                             p_asset uuid, p_ts numeric,
                                             p_content text, p_version uuid,
                                             p_ip text, p_frame integer,
                                             p_parent uuid, p_dur numeric,
                                             p_frames integer,
                                             p_annotation jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f          record;
    v_version  uuid;
    v_answer   jsonb;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, p_asset);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    IF NOT (f.s).allow_comments THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    IF p_parent IS NOT NULL THEN
        -- a thread on a version the link shows
        IF NOT EXISTS (SELECT 1 FROM comments c
                        WHERE c.id = p_parent AND c.asset_id = p_asset
                          AND c.version_id IN (SELECT v.id FROM
                                  mam_share_versions(f.s, p_asset) v)) THEN
            RETURN jsonb_build_object('outcome', 'bad_parent'::mam_outcome,
                       'message', 'parent_id: no such comment on this asset');
        END IF;
    ELSE
        v_version := coalesce(p_version,
                              (SELECT v.id FROM mam_share_versions(f.s,
                                                                   p_asset) v
                                ORDER BY v.number DESC LIMIT 1));
        IF NOT mam_share_shows(f.s, p_asset, v_version) THEN
            RETURN jsonb_build_object('outcome', 'bad_version'::mam_outcome);
        END IF;
    END IF;

    v_answer := mam_comment_write(p_asset, (f.s).project_id, NULL, (f.g).id,
                                  false, p_ts, p_content, v_version, p_ip,
                                  p_frame, p_parent, p_dur, p_frames,
                                  p_annotation);
    IF v_answer->>'outcome' = 'ok' THEN
        UPDATE share_guests SET comments = comments + 1,
                                last_seen_at = now()
         WHERE id = (f.g).id;
    END IF;
    RETURN v_answer;
END
$$;

-- PUT /api/r/{token}/versions/:id/approval: a guest's decision on a
-- version the link shows, where it allows approval.  Outcomes: those of
-- mam_version_approve (not_found also for a version the link does not
-- show), gone, no_session, forbidden (the link allows no approval).
CREATE OR REPLACE FUNCTION mam_share_approve(p_token text, p_session text,
                                             p_version uuid, p_status text,
                                             p_note text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f         record;
    v         versions;
    a         assets;
    v_answer  jsonb;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, NULL);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    SELECT * INTO v FROM versions WHERE id = p_version FOR UPDATE;
    SELECT * INTO a FROM assets WHERE id = v.asset_id AND deleted_at IS NULL;
    IF v.id IS NULL OR a.id IS NULL
       OR NOT mam_share_shows(f.s, a.id, v.id) THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF NOT (f.s).allow_approval THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    UPDATE share_guests SET approvals = approvals + 1, last_seen_at = now()
     WHERE id = (f.g).id;

    -- the decision first: a later statement sees the version it wrote
    v_answer := mam_version_decide(v, a, NULL, (f.g).id, p_status, p_note,
                                   p_ip);
    RETURN jsonb_set(v_answer, '{version}',
                     mam_share_version_json(
                         (SELECT x FROM versions x WHERE x.id = v.id)));
END
$$;

-- POST /api/r/{token}/sign-preview: a version the link shows, signed
-- through mam_preview_playable as for a member (the link stands for the
-- membership: the call is made as the instance, p_admin, with no user).
-- Outcomes: those of mam_preview_playable, gone, no_session.
CREATE OR REPLACE FUNCTION mam_share_playable(p_token text, p_session text,
                                              p_asset uuid, p_version uuid,
                                              p_ttl integer, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f          record;
    v_version  uuid;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, p_asset);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    v_version := coalesce(p_version,
                          (SELECT v.id FROM mam_share_versions(f.s, p_asset) v
                            ORDER BY v.number DESC LIMIT 1));
    IF v_version IS NULL OR NOT mam_share_shows(f.s, p_asset, v_version) THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    RETURN mam_preview_playable(p_asset, v_version, NULL, true, p_ttl, p_ip);
END
$$;

-- POST /api/r/{token}/versions/:id/download: where the link allows
-- downloads, through mam_version_download as for a member with
-- can_download.  Outcomes: those of mam_version_download, gone,
-- no_session, forbidden (the link allows no downloads).
CREATE OR REPLACE FUNCTION mam_share_download(p_token text, p_session text,
                                              p_version uuid,
                                              p_rendition text, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f  record;
    v  versions;
BEGIN
    SELECT * INTO f FROM mam_share_guest(p_token, p_session, NULL);
    IF f.outcome <> 'ok' THEN
        RETURN mam_share_refusal(f.outcome);
    END IF;
    SELECT * INTO v FROM versions WHERE id = p_version;
    IF v.id IS NULL OR NOT mam_share_shows(f.s, v.asset_id, v.id) THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF NOT (f.s).allow_download THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;
    RETURN mam_version_download(p_version, NULL, true, p_rendition, p_ip);
END
$$;

-- A version's approval (issue 21): its current status on the version's
-- row, every decision in version_approvals (026).  Who decides: an editor
-- or a manager of the asset's project, the asset's owner while still a
-- commenter there, an admin; every member sees the status and its history.

-- `approval` of the version's item (and of its asset's, from the latest
-- version): {status, user: {id, display_name} | null, note, at}; before
-- any decision {status: "none", user: null, note: null, at: null}; a
-- guest's decision (issue 22) has guest {id, name} and user null
CREATE OR REPLACE FUNCTION mam_approval_json(v versions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'status', coalesce(v.approval, 'none'),
        'user', (SELECT jsonb_build_object('id', u.id,
                                           'display_name', u.display_name)
                   FROM users u WHERE u.id = v.approval_by),
        'guest', (SELECT jsonb_build_object('id', g.id, 'name', g.name)
                    FROM share_guests g WHERE g.id = v.approval_guest),
        'note', v.approval_note,
        'at', mam_time(v.approval_at))
$$;

-- a row of the history (GET /api/versions/:id/approvals, NGX_MAM_SQL_APPROVAL_PAGE)
CREATE OR REPLACE FUNCTION mam_approval_entry_json(h version_approvals)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', h.id, 'version_id', h.version_id, 'status', h.status,
        'note', h.note,
        'user', (SELECT jsonb_build_object('id', u.id,
                                           'display_name', u.display_name)
                   FROM users u WHERE u.id = h.user_id),
        'guest', (SELECT jsonb_build_object('id', g.id, 'name', g.name)
                    FROM share_guests g WHERE g.id = h.guest_id),
        'created_at', mam_time(h.created_at))
$$;

-- PUT /api/versions/:id/approval {status, note?}: the version of a live
-- asset, its row locked, then the decision recorded (the same status again
-- is a decision too: a note, a second approver).  Outcomes: ok (version,
-- approval, event), not_found (also for a non-member of the asset's
-- project), forbidden (a viewer, a commenter who does not own the asset).
-- p_status is one of the four (the module checks it; the CHECKs of 026
-- hold it too).
CREATE OR REPLACE FUNCTION mam_version_approve(p_id uuid, p_user uuid,
                                               p_admin boolean,
                                               p_status text, p_note text,
                                               p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v        versions;
    a        assets;
    v_rank   integer;
BEGIN
    SELECT * INTO v FROM versions WHERE id = p_id FOR UPDATE;
    SELECT * INTO a FROM assets WHERE id = v.asset_id AND deleted_at IS NULL;
    v_rank := CASE WHEN v.id IS NULL OR a.id IS NULL THEN 0
                   ELSE mam_project_rank(a.project_id, p_user, p_admin) END;
    IF v_rank = 0 THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    IF v_rank < 3 AND NOT (v_rank = 2 AND a.user_id = p_user) THEN
        RETURN jsonb_build_object('outcome', 'forbidden'::mam_outcome);
    END IF;

    RETURN mam_version_decide(v, a, p_user, NULL, p_status, p_note, p_ip);
END
$$;

-- The decision on v (locked by the caller) of its live asset a, by a
-- member (p_user) or a guest of a review link (p_guest, issue 22), whose
-- right to decide the caller has checked: recorded, audited
-- (version_approval; a guest's with guest_id and share_id) and answered
-- as mam_version_approve answers.
CREATE OR REPLACE FUNCTION mam_version_decide(v versions, a assets,
                                              p_user uuid, p_guest uuid,
                                              p_status text, p_note text,
                                              p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    before  text;
BEGIN
    before := v.approval;
    INSERT INTO version_approvals (version_id, user_id, guest_id, status,
                                   note)
    VALUES (v.id, p_user, p_guest, p_status, p_note);
    UPDATE versions SET approval = p_status, approval_by = p_user,
                        approval_guest = p_guest,
                        approval_note = p_note, approval_at = now()
     WHERE id = v.id RETURNING * INTO v;

    PERFORM mam_audit(p_user, 'version_approval', 'version', v.id::text,
                      p_ip, jsonb_build_object('asset_id', v.asset_id,
                                               'before', before,
                                               'status', p_status,
                                               'note', p_note)
                            || CASE WHEN p_guest IS NULL THEN '{}'::jsonb
                                    ELSE jsonb_build_object('guest_id',
                                             p_guest, 'share_id',
                                             (SELECT g.share_id
                                                FROM share_guests g
                                               WHERE g.id = p_guest)) END);

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'version', mam_version_json(v),
                              'notify', mam_notify_approval(v, a.project_id,
                                                            a.user_id, p_user,
                                                            before),
                              'event', jsonb_build_object(
                                  'asset_id', v.asset_id,
                                  'project_id', a.project_id,
                                  'approval', jsonb_build_object(
                                      'version_id', v.id,
                                      'status', p_status)));
END
$$;

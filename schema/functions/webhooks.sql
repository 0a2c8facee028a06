-- Webhooks (028, issue 22): a project's managers register URLs; the
-- project's events are written here, in the transaction of the change,
-- as an event and one pending delivery per webhook that subscribes to
-- its kind (PostgreSQL is the outbox); webhookd delivers them (README,
-- "Webhooks").
--
-- mam_webhook_event(kind, project, data) is the one entry point of an
-- event: the triggers below call it for the kinds of this file, and any
-- other producer (share.viewed, the shares of issue 22) calls it from its
-- own function, in its own transaction.  It writes nothing, and costs one
-- index probe, when no active webhook of the project wants the kind.

-- the kinds a webhook may subscribe to
CREATE OR REPLACE FUNCTION mam_webhook_kinds() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['asset.created', 'version.created', 'preview.ready',
                 'preview.failed', 'comment.created', 'comment.resolved',
                 'approval.changed', 'share.viewed']
$$;

-- the `webhook` object: never the secret, only its first 4 characters
CREATE OR REPLACE FUNCTION mam_webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', w.id, 'project_id', w.project_id, 'url', w.url,
        'events', to_jsonb(w.events), 'active', w.active,
        'secret_prefix', left(w.secret, 4),
        'created_at', mam_time(w.created_at),
        'updated_at', mam_time(w.updated_at))
$$;

-- the `delivery` object of the delivery log
CREATE OR REPLACE FUNCTION mam_webhook_delivery_json(d webhook_deliveries)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'webhook_id', d.webhook_id, 'event_id', d.event_id,
        'event', d.kind, 'state', d.state, 'attempts', d.attempts,
        'status', d.status, 'error', d.error,
        'next_attempt', CASE WHEN d.state = 'pending'
                             THEN mam_time(d.next_attempt) END,
        'created_at', mam_time(d.created_at),
        'updated_at', mam_time(d.updated_at))
$$;

-- whether an active webhook of the project wants the kind
CREATE OR REPLACE FUNCTION mam_webhook_wanted(p_project uuid, p_kind text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM webhooks
                    WHERE project_id = p_project AND active
                      AND p_kind = ANY (events))
$$;

-- An event of p_project for p_webhook alone (the test event), or for
-- every active webhook of the project that wants the kind.  Returns the
-- event's id, NULL when nobody wants it (nothing written).  webhookd is
-- woken by the NOTIFY when the transaction commits.
CREATE OR REPLACE FUNCTION mam_webhook_emit(p_kind text, p_project uuid,
                                            p_data jsonb, p_webhook uuid)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id    uuid := gen_random_uuid();
    v_at    timestamptz := clock_timestamp();
    v_body  jsonb;
BEGIN
    IF p_webhook IS NULL AND NOT mam_webhook_wanted(p_project, p_kind) THEN
        RETURN NULL;
    END IF;

    v_body := jsonb_build_object('id', v_id, 'type', p_kind,
                                 'created_at', mam_time(v_at),
                                 'project_id', p_project,
                                 'data', coalesce(p_data, '{}'));
    -- an event never fails the change it tells of: data too large for a
    -- body (a comment's drawing) shrinks to its ids and truncated: true
    IF octet_length(v_body::text) > 60000 THEN
        v_body := jsonb_set(v_body, '{data}',
            jsonb_strip_nulls(jsonb_build_object(
                'truncated', true,
                'asset_id', p_data->'asset_id',
                'version_id', coalesce(p_data->'version_id',
                                       p_data#>'{version,id}'),
                'comment_id', p_data#>'{comment,id}')));
    END IF;

    INSERT INTO webhook_events (id, project_id, kind, body, created_at)
    VALUES (v_id, p_project, p_kind, v_body::text, v_at);

    INSERT INTO webhook_deliveries (webhook_id, event_id, kind)
    SELECT w.id, v_id, p_kind FROM webhooks w
     WHERE CASE WHEN p_webhook IS NULL
                THEN w.project_id = p_project AND w.active
                     AND p_kind = ANY (w.events)
                ELSE w.id = p_webhook END;

    PERFORM pg_notify('mam_webhooks', '');
    RETURN v_id;
END
$$;

-- THE entry point for an event's producers (see the top of this file)
CREATE OR REPLACE FUNCTION mam_webhook_event(p_kind text, p_project uuid,
                                             p_data jsonb)
RETURNS uuid LANGUAGE sql AS $$
    SELECT mam_webhook_emit(p_kind, p_project, p_data, NULL)
$$;

-- --- the events of this file's kinds, from the rows that change ----------

-- The AFTER triggers: each tests mam_webhook_wanted() before it builds
-- the data, so a project without webhooks pays one index probe.
CREATE OR REPLACE FUNCTION mam_webhook_asset_created() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF mam_webhook_wanted(NEW.project_id, 'asset.created') THEN
        PERFORM mam_webhook_event('asset.created', NEW.project_id,
                    jsonb_build_object('asset', mam_asset_json(NEW)));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mam_webhook_version_created() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_project  uuid;
BEGIN
    SELECT project_id INTO v_project FROM assets WHERE id = NEW.asset_id;
    IF mam_webhook_wanted(v_project, 'version.created') THEN
        PERFORM mam_webhook_event('version.created', v_project,
                    jsonb_build_object('asset_id', NEW.asset_id,
                                       'version', mam_version_json(NEW)));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mam_webhook_preview_done() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_asset    uuid;
    v_project  uuid;
    v_kind     text := 'preview.' || NEW.status;
BEGIN
    SELECT a.id, a.project_id INTO v_asset, v_project
      FROM versions v JOIN assets a ON a.id = v.asset_id
     WHERE v.id = NEW.version_id;
    IF mam_webhook_wanted(v_project, v_kind) THEN
        PERFORM mam_webhook_event(v_kind, v_project,
                    jsonb_build_object('asset_id', v_asset,
                                       'version_id', NEW.version_id,
                                       'job_id', NEW.id,
                                       'status', NEW.status,
                                       'error', NEW.error));
    END IF;
    RETURN NULL;
END
$$;

-- comment.created (TG_ARGV[0]) and comment.resolved
CREATE OR REPLACE FUNCTION mam_webhook_comment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_project  uuid;
BEGIN
    SELECT project_id INTO v_project FROM assets WHERE id = NEW.asset_id;
    IF mam_webhook_wanted(v_project, TG_ARGV[0]) THEN
        PERFORM mam_webhook_event(TG_ARGV[0], v_project,
                    jsonb_build_object('asset_id', NEW.asset_id,
                                       'comment', mam_comment_json(NEW)));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mam_webhook_approval() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_asset    uuid;
    v_project  uuid;
BEGIN
    SELECT a.id, a.project_id INTO v_asset, v_project
      FROM versions v JOIN assets a ON a.id = v.asset_id
     WHERE v.id = NEW.version_id;
    IF mam_webhook_wanted(v_project, 'approval.changed') THEN
        PERFORM mam_webhook_event('approval.changed', v_project,
                    jsonb_build_object('asset_id', v_asset,
                                       'version_id', NEW.version_id,
                                       'status', NEW.status,
                                       'note', NEW.note,
                                       'user_id', NEW.user_id,
                                       'created_at',
                                       mam_time(NEW.created_at)));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER assets_webhook_created AFTER INSERT ON assets
    FOR EACH ROW EXECUTE FUNCTION mam_webhook_asset_created();
CREATE OR REPLACE TRIGGER versions_webhook_created AFTER INSERT ON versions
    FOR EACH ROW EXECUTE FUNCTION mam_webhook_version_created();
CREATE OR REPLACE TRIGGER preview_jobs_webhook_done
    AFTER UPDATE OF status ON preview_jobs
    FOR EACH ROW
    WHEN (NEW.status IN ('ready', 'failed')
          AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION mam_webhook_preview_done();
CREATE OR REPLACE TRIGGER comments_webhook_created AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION mam_webhook_comment('comment.created');
CREATE OR REPLACE TRIGGER comments_webhook_resolved
    AFTER UPDATE OF resolved_at ON comments
    FOR EACH ROW
    WHEN (OLD.resolved_at IS NULL AND NEW.resolved_at IS NOT NULL)
    EXECUTE FUNCTION mam_webhook_comment('comment.resolved');
CREATE OR REPLACE TRIGGER version_approvals_webhook
    AFTER INSERT ON version_approvals
    FOR EACH ROW EXECUTE FUNCTION mam_webhook_approval();

-- --- the API: a project's managers (and admins) only ----------------------

-- The message of a 400 for a target URL, NULL when it is one: http or
-- https, a host name or an IP literal, an optional port 1..65535, an
-- optional path (and query) of printable ASCII; no user information, no
-- fragment.  Where it may point (never a private address) is webhookd's
-- check, at each delivery, on the address it connects to.
CREATE OR REPLACE FUNCTION mam_webhook_url_invalid(p_url text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    m  text[];
BEGIN
    IF p_url !~ '^[!-~]+$' THEN
        RETURN 'url: printable ASCII without spaces only';
    END IF;
    IF p_url !~ '^https?://' THEN
        RETURN 'url: must begin with http:// or https://';
    END IF;
    m := regexp_match(p_url, '^https?://([^/?#]*)');
    IF position('@' IN m[1]) > 0 THEN
        RETURN 'url: user information (user@host) is not allowed';
    END IF;
    IF position('#' IN p_url) > 0 THEN
        RETURN 'url: a fragment (#) is not allowed';
    END IF;
    m := regexp_match(m[1], '^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?'
                            '|\[[0-9A-Fa-f:.]+\])(:([0-9]{1,5}))?$');
    IF m IS NULL THEN
        RETURN 'url: the host must be a host name or an IP address';
    END IF;
    IF m[4] IS NOT NULL AND m[4]::integer NOT BETWEEN 1 AND 65535 THEN
        RETURN 'url: the port must be 1..65535';
    END IF;
    RETURN NULL;
END
$$;

-- p_events (a JSON array) as the distinct kinds it names, sorted; raises
-- MAM01 with the message of the 400
CREATE OR REPLACE FUNCTION mam_webhook_events_norm(p_events jsonb)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    e  jsonb;
    r  text[] := '{}';
BEGIN
    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_events) = 0 THEN
        PERFORM mam_invalid('events: a non-empty array of event names');
    END IF;
    FOR e IN SELECT * FROM jsonb_array_elements(p_events) LOOP
        IF jsonb_typeof(e) IS DISTINCT FROM 'string'
           OR NOT (e #>> '{}') = ANY (mam_webhook_kinds()) THEN
            PERFORM mam_invalid('events: ' || left(e::text, 80)
                || ' is not one of ' || array_to_string(mam_webhook_kinds(),
                                                        ', '));
        END IF;
        IF NOT (e #>> '{}') = ANY (r) THEN
            r := r || (e #>> '{}');
        END IF;
    END LOOP;
    RETURN array(SELECT x FROM unnest(r) x ORDER BY x COLLATE "C");
END
$$;

-- the caller's rank for the webhooks of p_project: not_found (a
-- non-member, or no such project), forbidden (a member below manager)
CREATE OR REPLACE FUNCTION mam_webhook_refusal(p_project uuid, p_user uuid,
                                               p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE mam_project_rank(p_project, p_user, p_admin)
           WHEN 0 THEN jsonb_build_object('outcome', 'not_found'::mam_outcome)
           WHEN 4 THEN NULL
           ELSE jsonb_build_object('outcome', 'forbidden'::mam_outcome) END
$$;

-- a webhook, locked, for its project's manager; or the refusal
CREATE OR REPLACE FUNCTION mam_webhook_for_change(p_id uuid, p_user uuid,
                                                  p_admin boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    w  webhooks;
    c  jsonb;
BEGIN
    SELECT * INTO w FROM webhooks WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found'::mam_outcome);
    END IF;
    c := mam_webhook_refusal(w.project_id, p_user, p_admin);
    RETURN coalesce(c, jsonb_build_object('outcome', 'ok'::mam_outcome,
                                          'project_id', w.project_id));
END
$$;

-- GET /api/webhooks?project_id= (managers).  Outcomes: ok (items),
-- not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_webhook_list(p_project uuid, p_user uuid,
                                            p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(mam_webhook_refusal(p_project, p_user, p_admin),
        jsonb_build_object('outcome', 'ok'::mam_outcome,
            'items', (SELECT coalesce(jsonb_agg(mam_webhook_json(w)
                                          ORDER BY w.created_at, w.id), '[]')
                        FROM webhooks w WHERE w.project_id = p_project)))
$$;

-- POST /api/webhooks {project_id, url, events, secret} (managers).  The
-- answer is the only one that carries the secret.  Outcomes: ok,
-- not_found, forbidden, invalid, conflict (20 a project).
CREATE OR REPLACE FUNCTION mam_webhook_create(p_project uuid, p_user uuid,
                                              p_admin boolean, p_url text,
                                              p_events jsonb, p_secret text,
                                              p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    w  webhooks;
BEGIN
    c := mam_project_for_change(p_project, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    IF mam_webhook_url_invalid(p_url) IS NOT NULL THEN
        RETURN mam_refusal('invalid', mam_webhook_url_invalid(p_url));
    END IF;
    IF (SELECT count(*) FROM webhooks WHERE project_id = p_project) >= 20
    THEN
        RETURN mam_refusal('conflict', 'a project has at most 20 webhooks');
    END IF;

    INSERT INTO webhooks (project_id, url, events, secret, created_by)
    VALUES (p_project, p_url, mam_webhook_events_norm(p_events), p_secret,
            p_user)
    RETURNING * INTO w;

    PERFORM mam_audit(p_user, 'webhook_create', 'webhook', w.id::text, p_ip,
                      jsonb_build_object('project_id', p_project,
                                         'webhook', mam_webhook_json(w)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
               'webhook', mam_webhook_json(w)
                          || jsonb_build_object('secret', w.secret));
EXCEPTION WHEN SQLSTATE 'MAM01' THEN
    RETURN mam_refusal('invalid', SQLERRM);
END
$$;

-- GET /api/webhooks/:id (managers).  Outcomes: ok, not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_webhook_get(p_id uuid, p_user uuid,
                                           p_admin boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT coalesce(mam_webhook_refusal(w.project_id, p_user, p_admin),
                         jsonb_build_object('outcome', 'ok'::mam_outcome,
                                            'webhook', mam_webhook_json(w)))
           FROM webhooks w WHERE w.id = p_id),
        jsonb_build_object('outcome', 'not_found'::mam_outcome))
$$;

-- PATCH /api/webhooks/:id {url?, events?, secret?, active?} (managers).
-- Deliveries already written keep going to the webhook as it is when
-- they are attempted.  Outcomes: ok, not_found, forbidden, invalid.
CREATE OR REPLACE FUNCTION mam_webhook_update(p_id uuid, p_user uuid,
                                              p_admin boolean, p_url text,
                                              p_events jsonb, p_secret text,
                                              p_active boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c      jsonb;
    w      webhooks;
    v_old  webhooks;
BEGIN
    c := mam_webhook_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    IF p_url IS NOT NULL AND mam_webhook_url_invalid(p_url) IS NOT NULL THEN
        RETURN mam_refusal('invalid', mam_webhook_url_invalid(p_url));
    END IF;
    SELECT * INTO v_old FROM webhooks WHERE id = p_id;

    UPDATE webhooks
       SET url = coalesce(p_url, url),
           events = CASE WHEN p_events IS NULL THEN events
                         ELSE mam_webhook_events_norm(p_events) END,
           secret = coalesce(p_secret, secret),
           active = coalesce(p_active, active),
           updated_at = now()
     WHERE id = p_id
    RETURNING * INTO w;

    PERFORM mam_audit(p_user, 'webhook_update', 'webhook', p_id::text, p_ip,
                      jsonb_build_object('project_id', w.project_id,
                                         'before', mam_webhook_json(v_old),
                                         'after', mam_webhook_json(w),
                                         'secret_changed',
                                         p_secret IS NOT NULL));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'webhook', mam_webhook_json(w));
EXCEPTION WHEN SQLSTATE 'MAM01' THEN
    RETURN mam_refusal('invalid', SQLERRM);
END
$$;

-- DELETE /api/webhooks/:id (managers): its delivery log goes with it.
-- Outcomes: ok, not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_webhook_delete(p_id uuid, p_user uuid,
                                              p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c  jsonb;
    w  webhooks;
BEGIN
    c := mam_webhook_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    DELETE FROM webhooks WHERE id = p_id RETURNING * INTO w;

    PERFORM mam_audit(p_user, 'webhook_delete', 'webhook', p_id::text, p_ip,
                      jsonb_build_object('project_id', w.project_id,
                                         'webhook', mam_webhook_json(w)));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome);
END
$$;

-- POST /api/webhooks/:id/test (managers): an event of kind webhook.test
-- for this webhook alone, active or not.  Outcomes: ok (delivery),
-- not_found, forbidden.
CREATE OR REPLACE FUNCTION mam_webhook_test(p_id uuid, p_user uuid,
                                            p_admin boolean, p_ip text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c     jsonb;
    d     webhook_deliveries;
    v_ev  uuid;
BEGIN
    c := mam_webhook_for_change(p_id, p_user, p_admin);
    IF c->>'outcome' <> 'ok' THEN
        RETURN c;
    END IF;
    v_ev := mam_webhook_emit('webhook.test', (c->>'project_id')::uuid,
                             jsonb_build_object('webhook_id', p_id,
                                                'message', 'a test event'),
                             p_id);
    SELECT * INTO d FROM webhook_deliveries WHERE event_id = v_ev;

    PERFORM mam_audit(p_user, 'webhook_test', 'webhook', p_id::text, p_ip,
                      jsonb_build_object('project_id', c->>'project_id',
                                         'event_id', v_ev));

    RETURN jsonb_build_object('outcome', 'ok'::mam_outcome,
                              'delivery', mam_webhook_delivery_json(d));
END
$$;

-- --- webhookd's side -------------------------------------------------------

-- Up to p_limit pending deliveries that are due and not handed out,
-- leased for p_lease seconds (the relay XADDs their ids to mam:webhooks;
-- a lease that lapses, a lost entry or a dead worker, hands it out again).
CREATE OR REPLACE FUNCTION mam_webhook_due(p_limit integer, p_lease integer)
RETURNS SETOF bigint LANGUAGE sql AS $$
    UPDATE webhook_deliveries d
       SET leased_until = now() + make_interval(secs => p_lease)
     WHERE d.id IN (SELECT id FROM webhook_deliveries
                     WHERE state = 'pending' AND next_attempt <= now()
                       AND (leased_until IS NULL OR leased_until <= now())
                     ORDER BY next_attempt
                     LIMIT p_limit
                       FOR UPDATE SKIP LOCKED)
    RETURNING d.id
$$;

-- A worker takes delivery p_id for one attempt: {id, url, secret, body,
-- event, event_id, attempt}, or NULL when it is no longer pending, not
-- due, or under way in another worker (a duplicate entry).  A delivery of a webhook that was disabled
-- since fails (the test event excepted).
CREATE OR REPLACE FUNCTION mam_webhook_take(p_id bigint, p_lease integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d  webhook_deliveries;
    w  webhooks;
    e  webhook_events;
BEGIN
    SELECT * INTO d FROM webhook_deliveries
     WHERE id = p_id AND state = 'pending'
       AND next_attempt <= now() + interval '1 second'
       AND (taken_until IS NULL OR taken_until <= now())
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO w FROM webhooks WHERE id = d.webhook_id;
    SELECT * INTO e FROM webhook_events WHERE id = d.event_id;
    IF NOT w.active AND d.kind <> 'webhook.test' THEN
        UPDATE webhook_deliveries
           SET state = 'failed', error = 'the webhook was disabled',
               leased_until = NULL, taken_until = NULL,
               updated_at = now()
         WHERE id = p_id;
        RETURN NULL;
    END IF;
    UPDATE webhook_deliveries
       SET attempts = attempts + 1,
           leased_until = now() + make_interval(secs => p_lease),
           taken_until = now() + make_interval(secs => p_lease),
           updated_at = now()
     WHERE id = p_id RETURNING * INTO d;
    RETURN jsonb_build_object('id', d.id, 'url', w.url, 'secret', w.secret,
                              'body', e.body, 'event', d.kind,
                              'event_id', d.event_id, 'attempt', d.attempts);
END
$$;

-- The outcome of an attempt: p_status the HTTP status (NULL: no answer),
-- p_error why it failed; p_final: refused for good (the target's address),
-- no retry.  Otherwise a failure is retried after p_backoff_ms doubled at
-- each attempt (at most an hour, +-20 % jitter), while the retry would
-- still fall within p_window seconds of the event; then it fails.
-- Returns the delivery's state.
CREATE OR REPLACE FUNCTION mam_webhook_attempt(p_id bigint, p_status integer,
                                               p_error text,
                                               p_final boolean,
                                               p_window integer,
                                               p_backoff_ms integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d        webhook_deliveries;
    v_delay  interval;
    v_error  text := left(p_error, 400);
BEGIN
    SELECT * INTO d FROM webhook_deliveries
     WHERE id = p_id AND state = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF p_status BETWEEN 200 AND 299 THEN
        UPDATE webhook_deliveries
           SET state = 'delivered', status = p_status, error = NULL,
               leased_until = NULL, taken_until = NULL,
               updated_at = now()
         WHERE id = p_id;
        RETURN 'delivered';
    END IF;

    v_delay := make_interval(secs => least(p_backoff_ms::float8
                                 * 2 ^ least(greatest(d.attempts - 1, 0), 30),
                                 3600000) / 1000
                                 * (0.8 + random() * 0.4));

    IF p_final OR now() + v_delay > d.created_at
                                     + make_interval(secs => p_window) THEN
        UPDATE webhook_deliveries
           SET state = 'failed', status = p_status,
               error = CASE WHEN p_final THEN v_error
                            ELSE left('gave up after ' || d.attempts
                                      || ' attempt(s): ' || v_error, 500) END,
               leased_until = NULL, taken_until = NULL,
               updated_at = now()
         WHERE id = p_id;
        RETURN 'failed';
    END IF;

    UPDATE webhook_deliveries
       SET status = p_status, error = v_error, next_attempt = now() + v_delay,
           leased_until = NULL, taken_until = NULL, updated_at = now()
     WHERE id = p_id;
    RETURN 'pending';
END
$$;

-- events (and their delivery logs) older than p_days that nothing waits
-- on any more; at most p_limit events a call
CREATE OR REPLACE FUNCTION mam_webhook_purge(p_days integer, p_limit integer)
RETURNS integer LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM webhook_events e
         WHERE e.id IN (SELECT x.id FROM webhook_events x
                         WHERE x.created_at < now()
                                              - make_interval(days => p_days)
                           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                            WHERE d.event_id = x.id
                                              AND d.state = 'pending')
                         ORDER BY x.created_at LIMIT p_limit)
        RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;

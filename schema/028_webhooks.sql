-- 028: webhooks (issue 22).  A project's managers register URLs that are
-- told of the project's events; webhookd (webhookd/) delivers them.
--
-- PostgreSQL is the outbox: the event and one delivery row per subscribed
-- webhook are written in the transaction of the change itself (triggers,
-- schema/functions/webhooks.sql), so an event is never lost between a
-- commit and a queue.  webhookd hands due deliveries to its workers
-- through the Redis stream mam:webhooks (a consumer group, so several
-- daemons share the work) and records every attempt here.
--
-- The secret is kept as the user gave it: an HMAC needs the key itself
-- (a hash of it signs nothing), and encrypting it under a key the same
-- hosts hold would add a step but no protection against whoever reads
-- this database, who can read every project anyway.  It is answered only
-- by the POST that creates the webhook; every read shows secret_prefix,
-- its first 4 characters, so a manager can tell secrets apart.
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url         text NOT NULL CONSTRAINT webhooks_url_length
                CHECK (length(url) BETWEEN 10 AND 2048),
    events      text[] NOT NULL CONSTRAINT webhooks_events_count
                CHECK (cardinality(events) BETWEEN 1 AND 16),
    secret      text NOT NULL CONSTRAINT webhooks_secret_length
                CHECK (length(secret) BETWEEN 16 AND 256),
    active      boolean NOT NULL DEFAULT true,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- what an event looks up: the active webhooks of its project
CREATE INDEX webhooks_project_idx ON webhooks (project_id) WHERE active;

-- An event as it is sent: body is the exact JSON text every attempt of
-- every delivery signs and sends, {id, type, created_at, project_id, data}.
CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind        text NOT NULL CONSTRAINT webhook_events_kind_length
                CHECK (length(kind) BETWEEN 1 AND 64),
    body        text NOT NULL CONSTRAINT webhook_events_body_size
                CHECK (octet_length(body) <= 65536),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

-- One event for one webhook.  pending: next_attempt says when it is due
-- (leased_until: handed out, into the stream, until then; taken_until: an
-- attempt is under way until then, so a second entry of the same delivery
-- does not start another); delivered: a 2xx came;
-- failed: refused (the target's address) or still failing at the end of
-- the retry window.  status: the last attempt's HTTP status (NULL: no
-- answer); error: why it was not delivered.
CREATE TABLE webhook_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id      uuid NOT NULL REFERENCES webhook_events (id)
                  ON DELETE CASCADE,
    kind          text NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CONSTRAINT webhook_deliveries_state
                  CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    status        integer CHECK (status BETWEEN 100 AND 999),
    error         text CONSTRAINT webhook_deliveries_error_length
                  CHECK (length(error) <= 500),
    next_attempt  timestamptz NOT NULL DEFAULT now(),
    leased_until  timestamptz,
    taken_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
-- the delivery log of a webhook, newest first (keyset by id)
CREATE INDEX webhook_deliveries_log_idx
    ON webhook_deliveries (webhook_id, id DESC);
-- what webhookd hands out: pending deliveries by when they are due
CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

-- 020: the list's filters (issue 19).
--
-- What an asset can be filtered by is a set of tokens, its facets: its
-- project (p:ID), owner (o:ID), latest preview status (s:STATUS), folder
-- (d:ID), tags (t:TAG) and custom field values (f:NAME=VALUE, one per value
-- of a multi-value field), written with its item by the BEFORE trigger
-- (mam_asset_facets(), schema/functions/items.sql).  asset_facets holds one
-- row per live asset and token, and the token "*" for every live asset,
-- with the list's sort keys beside it: a filtered page reads one token's
-- rows in the order of the sort from an index (token first) and checks the
-- other tokens on the asset, so it costs about its page whatever share of
-- the assets the token has (ngx_mam_sql.h).
ALTER TABLE assets ADD COLUMN facets text[] NOT NULL DEFAULT '{}';

CREATE TABLE asset_facets (
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    token       text NOT NULL,
    project_id  uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    title       text NOT NULL,
    PRIMARY KEY (asset_id, token)
);
-- with the project, so a member's page tests its scope from the index
-- alone (an index-only scan where the visibility map allows)
CREATE INDEX asset_facets_created_idx
    ON asset_facets (token, created_at, asset_id) INCLUDE (project_id);
CREATE INDEX asset_facets_title_idx
    ON asset_facets (token, title, asset_id) INCLUDE (project_id, created_at);
-- The pages of ngx_mam_sql.h are generic plans (plan_cache_mode), which
-- estimate "token = $1" from the number of distinct tokens: with many
-- (tags, field values) a token looks rare and PostgreSQL would fetch all
-- its rows and sort them, reading every asset of a project for a page of
-- it.  Planned as common, a page reads its rows in order from the index
-- and stops: right for a rare token too (its rows are few).  ANALYZE keeps
-- this figure as the column's.
ALTER TABLE asset_facets ALTER COLUMN token SET (n_distinct = 10);

-- the facets and their rows are written with the items (items.sql)
ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;

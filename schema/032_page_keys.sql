-- 032: what a list's cursor is made of, as one stored text per row.
--
-- A page's cursor is the id and the sort key of its last asset.  The
-- lists sent both on every row (the id, the title and the creation time
-- AT TIME ZONE 'UTC'), and turning the uuid and the time into text for 25
-- rows was a tenth of PostgreSQL's time for a page (docs/benchmarks.md).
-- page_key is that text, made once when the row is written: the asset's id
-- and its exact creation time in seconds since 1970 at UTC,
--     "4e92148c-720f-4fe1-a72d-1c8c71a52479 1796292000.123456"
-- (the module writes the time into the cursor as 2026-12-01T10:00:00.
-- 123456Z, ngx_mam_rows.c).  A generated column, so every writer keeps it
-- (no trigger to miss, none to define here) and adding it rewrites the
-- tables without touching their rows' updated_at.  The epoch, not
-- to_char(): a generated column takes immutable expressions only, and
-- every time-to-text function depends on the session's settings.  In
-- asset_facets only the rows that carry an item (024) are read as a page,
-- so only they hold one.
ALTER TABLE assets ADD COLUMN page_key text NOT NULL
    GENERATED ALWAYS AS (id::text || ' '
                         || extract(epoch FROM created_at AT TIME ZONE 'UTC')::text)
    STORED;

ALTER TABLE asset_facets ADD COLUMN page_key text
    GENERATED ALWAYS AS (CASE WHEN item IS NOT NULL
                              THEN asset_id::text || ' '
                                   || extract(epoch FROM created_at AT TIME ZONE 'UTC')::text
                         END)
    STORED;

-- 011: bounded lists (issue 15).  Comments are listed a page at a time in
-- keyset order, and a search is refused beyond 8 words, so one request
-- reads at most one page and expands into at most 8 prefix scans.

-- the keyset order of comments, id last so that it is total (the seed's
-- index under its name, one column longer)
DROP INDEX idx_comments_asset_id;
CREATE INDEX idx_comments_asset_id
    ON comments (asset_id, timestamp_sec, created_at, id);

-- mam_comment_list became a page of p_limit rows after a cursor (013
-- drops that one too: the list is a statement of the module now), so the
-- old signature goes (IF EXISTS: as in 008).
DROP FUNCTION IF EXISTS mam_comment_list(uuid);

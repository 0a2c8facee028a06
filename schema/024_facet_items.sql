-- 024: the rows of asset_facets that drive a page of their own carry the
-- asset's item (issue 19's bench bar).
--
-- A page filtered by a folder, a tag or a field value reads that token's
-- rows in order; until now each row then fetched its asset by key (one
-- more index descent per row, a quarter of the list's rate).  Those rows
-- now hold the asset's item and facets, so the page reads them as the
-- unfiltered list reads assets: the index, then the row.  The cost is on
-- writes: an asset's item is copied into its folder's, tags' and field
-- values' rows whenever it changes (schema/functions/items.sql).  The
-- project (read from the assets' own index since this change), the owner,
-- the status and "*" keep rows without an item: every asset has one of
-- each, and copying the item into them would multiply every write.
ALTER TABLE asset_facets ADD COLUMN item text, ADD COLUMN facets text[];

UPDATE asset_facets f SET item = a.item, facets = a.facets
  FROM assets a
 WHERE a.id = f.asset_id AND left(f.token, 2) IN ('d:', 't:', 'f:');

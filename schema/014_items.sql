-- 014: every row the API reads most carries its own JSON.  `item` is the
-- API's object for the row (user, asset with its latest version, version
-- with its preview, comment) as PostgreSQL's jsonb prints it, written by
-- triggers whenever the row or anything it shows changes
-- (schema/functions/items.sql).  A read is then an index scan that copies
-- text: the JSON is built once per write instead of once per read, by the
-- same functions that answer the writes (mam_asset_json() and the rest).
ALTER TABLE users    ADD COLUMN item text;
ALTER TABLE assets   ADD COLUMN item text;
ALTER TABLE versions ADD COLUMN item text;
ALTER TABLE comments ADD COLUMN item text;

-- An asset's item is about 1.5 KB (its latest version's metadata and
-- renditions): kept in the row, uncompressed, so a page of them is read
-- without TOAST lookups or decompression.
ALTER TABLE assets   SET (toast_tuple_target = 8160);
ALTER TABLE versions SET (toast_tuple_target = 8160);

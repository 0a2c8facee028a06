-- 017: downloads (issue 19).  A version keeps the name its master was
-- uploaded under, for the Content-Disposition of a download
-- (mam_version_download(), schema/functions/downloads.sql).  Versions made
-- before have none: a download names them after the asset's title.
ALTER TABLE versions ADD COLUMN filename text
    CHECK (length(filename) BETWEEN 1 AND 255);

-- 019: the audit log becomes readable (GET /api/audit, issue 19).  Each row
-- learns the project and the asset it concerns, so that a project's
-- managers read their projects' rows and an investigator follows one
-- asset; mam_audit() (schema/functions/util.sql) fills both from the
-- target and the details of every new row, and this backfill does the
-- same for the rows written before.  Neither column is a foreign key: a
-- row outlives its project and its asset.
--
-- A row's asset: details' asset_id, else the target when it is an asset,
-- a version's asset, or a preview job's version's asset (details'
-- version_id for a callback).  Its project: details' project_id, else the
-- target when it is a project, else its asset's project.  The functions do
-- not exist yet while migrations run (README, "Schema changes"), so the
-- UUID test is written out here.

ALTER TABLE audit_log ADD COLUMN project_id uuid, ADD COLUMN asset_id uuid;

WITH k AS (
    SELECT l.id,
           CASE WHEN l.details->>'asset_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN (l.details->>'asset_id')::uuid END AS d_asset,
           CASE WHEN l.details->>'project_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN (l.details->>'project_id')::uuid END AS d_project,
           CASE WHEN l.details->>'version_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN (l.details->>'version_id')::uuid END AS d_version,
           CASE WHEN l.target_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN l.target_id::uuid END AS target
      FROM audit_log l
), a AS (
    SELECT k.id, k.d_project, k.target,
           coalesce(k.d_asset,
                    CASE WHEN l.target_type = 'asset' THEN k.target END,
                    (SELECT v.asset_id FROM versions v
                      WHERE l.target_type = 'version' AND v.id = k.target),
                    (SELECT v.asset_id FROM preview_jobs j
                       JOIN versions v ON v.id = j.version_id
                      WHERE l.target_type = 'job' AND j.id = k.target),
                    (SELECT v.asset_id FROM versions v
                      WHERE v.id = k.d_version)) AS asset
      FROM k JOIN audit_log l ON l.id = k.id
)
UPDATE audit_log l
   SET asset_id = a.asset,
       project_id = coalesce(a.d_project,
                             CASE WHEN l.target_type = 'project'
                                  THEN a.target END,
                             (SELECT s.project_id FROM assets s
                               WHERE s.id = a.asset))
  FROM a
 WHERE a.id = l.id
   AND (a.asset IS NOT NULL OR a.d_project IS NOT NULL
        OR l.target_type = 'project');

-- Keyset pages newest first, (at, id) descending: the id breaks ties of
-- one transaction's rows (they share now()).  One index per way a page is
-- read (ngx_mam_sql.h, NGX_MAM_SQL_AUDIT_*): every row (and the
-- retention's purge, which keeps the name), an actor's, a project's, an
-- asset's, an action's.  A page reads its rows from the index of its most
-- selective filter, backwards, and stops at limit + 1.
DROP INDEX audit_log_at_idx;
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
DROP INDEX audit_log_user_idx;
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at, id);
CREATE INDEX audit_log_project_idx ON audit_log (project_id, at, id)
    WHERE project_id IS NOT NULL;
CREATE INDEX audit_log_asset_idx ON audit_log (asset_id, at, id)
    WHERE asset_id IS NOT NULL;
CREATE INDEX audit_log_action_idx ON audit_log (action, at, id);

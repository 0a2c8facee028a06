-- A version's approval history is read a keyset page at a time (issue 21):
-- GET /api/versions/:id/approvals is a statement of the module
-- (NGX_MAM_SQL_APPROVAL_PAGE, on version_approvals_version_idx), so the
-- function that answered its one page of the newest 100 goes.
DROP FUNCTION IF EXISTS mam_version_approvals(uuid, uuid, boolean);

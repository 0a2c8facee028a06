/*
 * Folders: a tree inside a project.  Statement routes over the functions
 * of schema/functions/folders.sql, which decide from the caller's project
 * role: members see the tree, editors and managers (and admins) change
 * it, and a folder of a project the caller is no member of is 404, as the
 * project is.  The bounds (folders per project, depth) are the SQL
 * functions' and come back in the refusal.
 */

#include "ngx_mam_pg.h"


static const ngx_mam_outcome_t  ngx_mam_folder_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND,
      "no such project or folder", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only an editor or a manager of the project or an admin may change "
      "its folders", NULL },
    { MAM_OUTCOME_UNKNOWN, NGX_HTTP_BAD_REQUEST,
      "parent_id: no such folder in this project", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST,
      "parent_id: a folder cannot move into itself or a folder under it",
      NULL },
    { MAM_OUTCOME_TOO_DEEP, NGX_HTTP_BAD_REQUEST,
      "parent_id: folders nest at most %.0f deep", "max" },
    { MAM_OUTCOME_BEYOND, NGX_HTTP_CONFLICT,
      "a project holds at most %.0f folders", "max" },
    { MAM_OUTCOME_TAKEN, NGX_HTTP_CONFLICT,
      "name: a folder of this name is already there", NULL },
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT,
      "the folder still holds folders or assets", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


static const ngx_mam_field_t  ngx_mam_folder_create_fields[] = {
    { "name", ngx_mam_field_name, 1, 200, 1 },
    { "parent_id", ngx_mam_field_uuid_or_null, 1, MAM_UUID_LEN, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_folder_update_fields[] = {
    { "name", ngx_mam_field_name, 1, 200, 0 },
    { "parent_id", ngx_mam_field_uuid_or_null, 1, MAM_UUID_LEN, 0 },
    { NULL, NULL, 0, 0, 0 }
};


/* GET /api/projects/:id/folders (members): the whole tree, flat */
const ngx_mam_statement_t  ngx_mam_folder_list = {
    "SELECT mam_folder_list($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_folder_outcomes, NGX_HTTP_OK, "items"
};

/* POST /api/projects/:id/folders {name, parent_id?} (editors, managers) */
const ngx_mam_statement_t  ngx_mam_folder_create = {
    "SELECT mam_folder_create($1, $2, $3, $4, $5, $6)", 6,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_folder_create_fields, 0, NULL,
    NULL, ngx_mam_folder_outcomes, NGX_HTTP_CREATED, "folder"
};

/* PATCH /api/folders/:id {name?, parent_id?}: rename, move (null: the
 * project's root) */
const ngx_mam_statement_t  ngx_mam_folder_update = {
    "SELECT mam_folder_update($1, $2, $3, $4, $5, $6)", 6,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_folder_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "name or parent_id: required",
    NULL, ngx_mam_folder_outcomes, NGX_HTTP_OK, "folder"
};

/* DELETE /api/folders/:id: an empty folder */
const ngx_mam_statement_t  ngx_mam_folder_delete = {
    "SELECT mam_folder_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    NULL, ngx_mam_folder_outcomes, NGX_HTTP_NO_CONTENT, NULL
};

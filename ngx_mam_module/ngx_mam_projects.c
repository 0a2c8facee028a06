/*
 * Projects and their members: statement routes over the functions of
 * schema/functions/projects.sql, which decide who may do what from the
 * caller's project role (mam_project_rank(): a non-member is answered 404,
 * never 403).  A member's change raises the member's authz_version and is
 * written to the authorization cache before the answer, as an admin's
 * change of roles is (ngx_mam_users.c): their tokens and open event
 * streams, which know their projects from when they opened, end at once.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"


static const ngx_mam_outcome_t  ngx_mam_project_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such project", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only a manager of the project or an admin may change it", NULL },
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT,
      "the project still holds assets, or is the default project", NULL },
    { MAM_OUTCOME_UNKNOWN, NGX_HTTP_NOT_FOUND,
      "user_id: no such user, or not a member", NULL },
    { MAM_OUTCOME_TAKEN, NGX_HTTP_CONFLICT,
      "user_id: already a member", NULL },
    { MAM_OUTCOME_MISSING, NGX_HTTP_NOT_FOUND,
      "email: no active account with this address", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST,
      "user_id or email: required (one of them)", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* role: viewer, commenter, editor or manager */
static const char *
ngx_mam_projects_role(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message;

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    if (ngx_strcmp(*out, "viewer") != 0 && ngx_strcmp(*out, "commenter") != 0
        && ngx_strcmp(*out, "editor") != 0 && ngx_strcmp(*out, "manager") != 0)
    {
        return "role: must be viewer, commenter, editor or manager";
    }

    return NULL;
}


/* the answer's object without its outcome: {project, members} */
static void
ngx_mam_projects_got(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_project_outcomes);
    if (v == NULL) {
        return;
    }

    json_object_del(v, "outcome");

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, v));
}


/* --- projects ------------------------------------------------------------- */

static const ngx_mam_field_t  ngx_mam_project_create_fields[] = {
    { "name", ngx_mam_field_name, 1, 200, 1 },
    { "description", ngx_mam_field_text, 0, 5000, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_project_update_fields[] = {
    { "name", ngx_mam_field_name, 1, 200, 0 },
    { "description", ngx_mam_field_text, 0, 5000, 0 },
    { NULL, NULL, 0, 0, 0 }
};


/* POST /api/projects (editors, admins): the caller becomes its manager */
const ngx_mam_statement_t  ngx_mam_project_create = {
    "SELECT mam_project_create($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1),
      NGX_MAM_ARG_IP },
    ngx_mam_project_create_fields, 0, NULL,
    NULL, ngx_mam_project_outcomes, NGX_HTTP_CREATED, "project"
};

/* GET /api/projects: the caller's projects (an admin's: all) */
const ngx_mam_statement_t  ngx_mam_project_list = {
    "SELECT mam_project_list($1, $2)", 2,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_project_outcomes, NGX_HTTP_OK, "items"
};

/* GET /api/projects/:id: the project and its members, for members */
const ngx_mam_statement_t  ngx_mam_project_get = {
    "SELECT mam_project_get($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    ngx_mam_projects_got, NULL, NGX_HTTP_OK, NULL
};

/* PATCH /api/projects/:id (managers, admins) */
const ngx_mam_statement_t  ngx_mam_project_update = {
    "SELECT mam_project_update($1, $2, $3, $4, $5, $6)", 6,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_project_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "name or description: required",
    NULL, ngx_mam_project_outcomes, NGX_HTTP_OK, "project"
};

/* DELETE /api/projects/:id (managers, admins): an empty project */
const ngx_mam_statement_t  ngx_mam_project_delete = {
    "SELECT mam_project_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    NULL, ngx_mam_project_outcomes, NGX_HTTP_NO_CONTENT, NULL
};


/* --- members -------------------------------------------------------------- */

static void
ngx_mam_members_sent(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_mam_ctx_t  *ctx;

    (void) reply;

    if (data == NULL) {
        ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);

    ngx_http_finalize_request(r, ngx_mam_send_json(r,
                                  ctx->route->statement->status, data));
}


/* the member's change is made and the edges know of the playback URLs it
 * revoked (a removal, 030): the authorization cache learns their new
 * authz_version (their tokens and streams end), then the answer */
static void
ngx_mam_members_revoked(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t                     *v = data, *body;
    const char                 *user, *status;
    ngx_mam_ctx_t              *ctx;
    const ngx_mam_statement_t  *st;

    (void) reply;

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    st = ctx->route->statement;

    user = json_string_value(json_object_get(v, "user_id"));
    status = json_string_value(json_object_get(v, "status"));

    body = NULL;
    if (st->name != NULL) {
        body = json_pack("{s:O}", st->name, json_object_get(v, st->name));
        if (body == NULL
            || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK)
        {
            json_decref(body);
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }

    if (user == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_mam_authz_cache_set(r, user,
                            (long) json_integer_value(json_object_get(v, "av")),
                            status ? status : "", ngx_mam_members_sent, body);
}


static void
ngx_mam_members_changed(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_project_outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_edge_revoke(r, json_object_get(v, "epochs"),
                        ngx_mam_members_revoked, v);
}


static const ngx_mam_field_t  ngx_mam_member_add_fields[] = {
    { "user_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "email", ngx_mam_field_text, 3, 254, 0 },
    { "role", ngx_mam_projects_role, 1, 16, 1 },
    { "can_download", ngx_mam_field_flag, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_member_update_fields[] = {
    { "user_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 1 },
    { "role", ngx_mam_projects_role, 1, 16, 0 },
    { "can_download", ngx_mam_field_flag, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_member_remove_fields[] = {
    { "user_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 1 },
    { NULL, NULL, 0, 0, 0 }
};


/* POST /api/projects/:id/members {user_id | email, role, can_download?}:
 * by e-mail too, since a manager cannot list the users */
const ngx_mam_statement_t  ngx_mam_member_add = {
    "SELECT mam_member_add($1, $2, $3, $4, $5, $6, $7, $8)", 8,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_IP },
    ngx_mam_member_add_fields, 0, NULL,
    ngx_mam_members_changed, ngx_mam_project_outcomes, NGX_HTTP_CREATED,
    "member"
};

/* PATCH /api/projects/:id/members {user_id, role?, can_download?} */
const ngx_mam_statement_t  ngx_mam_member_update = {
    "SELECT mam_member_update($1, $2, $3, $4, $5, $6, $7)", 7,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_IP },
    ngx_mam_member_update_fields, 0, NULL,
    ngx_mam_members_changed, ngx_mam_project_outcomes, NGX_HTTP_OK, "member"
};

/* DELETE /api/projects/:id/members {user_id} */
const ngx_mam_statement_t  ngx_mam_member_remove = {
    "SELECT mam_member_remove($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_IP },
    ngx_mam_member_remove_fields, 0, NULL,
    ngx_mam_members_changed, ngx_mam_project_outcomes, NGX_HTTP_NO_CONTENT,
    NULL
};

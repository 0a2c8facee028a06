/*
 * Custom fields of a project, the values and tags of assets, and the bulk
 * edit of many assets (issue 19): statement routes over the functions of
 * schema/functions/fields.sql.  The module checks the shape of the body
 * (a field's name and kind, that choices or values are JSON of the right
 * type); each value is checked against its field in SQL, where the
 * definitions are, and a refusal there carries its own message, naming
 * the field or the asset (ngx_mam_refuse_outcome).
 */

#include "ngx_mam_pg.h"


static const ngx_mam_outcome_t  ngx_mam_field_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such field or project",
      NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only a manager of the project or an admin may change its fields",
      NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST, "invalid field", NULL },
    { MAM_OUTCOME_TAKEN, NGX_HTTP_CONFLICT, "name: taken", NULL },
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT, "conflict", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_bulk_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "ids: no such asset", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "ids: an asset you may not change", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST, "invalid value", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/*
 * A JSON object (f->min == NGX_MAM_FIELD_JSON_OBJECT) or array of at most
 * f->max members, as compact JSON text for a jsonb parameter; absent or
 * null: NULL.  Numbers keep 15 significant digits (NGX_MAM_JSON_FLAGS),
 * so 0.1 stays 0.1 on its way to SQL.
 */
const char *
ngx_mam_field_json(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    char    *text;
    u_char  *p;
    json_t  *v;
    size_t   n;

    v = ctx->body ? json_object_get(ctx->body, f->name) : NULL;

    if (v == NULL || json_is_null(v)) {
        return f->required
               ? ngx_mam_message(r->pool, "%s: required", f->name)
               : NULL;
    }

    if (f->min == NGX_MAM_FIELD_JSON_OBJECT) {
        if (!json_is_object(v)) {
            return ngx_mam_message(r->pool, "%s: must be an object", f->name);
        }
        n = json_object_size(v);

    } else {
        if (!json_is_array(v)) {
            return ngx_mam_message(r->pool, "%s: must be an array", f->name);
        }
        n = json_array_size(v);
    }

    if (n > f->max) {
        return ngx_mam_message(r->pool, "%s: at most %uz entries", f->name,
                               f->max);
    }

    text = json_dumps(v, NGX_MAM_JSON_FLAGS);
    if (text == NULL) {
        return "out of memory";
    }

    n = ngx_strlen(text);
    p = ngx_pnalloc(r->pool, n + 1);

    if (p != NULL) {
        ngx_cpystrn(p, (u_char *) text, n + 1);
    }

    free(text);
    *out = (const char *) p;

    return p ? NULL : "out of memory";
}


/* name: ^[a-z][a-z0-9_]{0,39}$, the key of the value in assets.fields */
static const char *
ngx_mam_fields_name(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message, *p;

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    for (p = *out; *p; p++) {
        if ((*p >= 'a' && *p <= 'z')
            || (p > *out && ((*p >= '0' && *p <= '9') || *p == '_')))
        {
            continue;
        }

        *out = NULL;
        return "name: a lowercase letter, then up to 39 lowercase letters, "
               "digits or _";
    }

    return NULL;
}


/* kind: text, number, date, choice, multi_choice or tags */
static const char *
ngx_mam_fields_kind(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_uint_t          i;
    const char         *message;
    static const char  *kinds[] = { "text", "number", "date", "choice",
                                    "multi_choice", "tags", NULL };

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    for (i = 0; kinds[i]; i++) {
        if (ngx_strcmp(*out, kinds[i]) == 0) {
            return NULL;
        }
    }

    *out = NULL;

    return "kind: must be text, number, date, choice, multi_choice or tags";
}


/* position: an integer in f->min..f->max */
static const char *
ngx_mam_fields_position(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char      *p;
    json_t      *v;
    json_int_t   n;

    v = ctx->body ? json_object_get(ctx->body, f->name) : NULL;

    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    n = json_is_integer(v) ? json_integer_value(v) : -1;

    if (!json_is_integer(v) || n < (json_int_t) f->min
        || n > (json_int_t) f->max)
    {
        return ngx_mam_message(r->pool, "%s: must be an integer from %uz "
                               "to %uz", f->name, f->min, f->max);
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return "out of memory";
    }

    *ngx_sprintf(p, "%L", (int64_t) n) = '\0';
    *out = (const char *) p;

    return NULL;
}


/* a field that cannot be changed: 400 when the body has it */
static const char *
ngx_mam_fields_fixed(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    (void) out;

    if (ctx->body && json_object_get(ctx->body, f->name) != NULL) {
        return ngx_mam_message(r->pool, "%s: cannot be changed (delete the "
                               "field and define it again)", f->name);
    }

    return NULL;
}


/* --- definitions --------------------------------------------------------- */

static const ngx_mam_field_t  ngx_mam_field_create_fields[] = {
    { "name", ngx_mam_fields_name, 1, 40, 1 },
    { "label", ngx_mam_field_name, 1, 200, 1 },
    { "kind", ngx_mam_fields_kind, 1, 16, 1 },
    { "choices", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 200, 0 },
    { "position", ngx_mam_fields_position, 0, 1000000, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_field_update_fields[] = {
    { "label", ngx_mam_field_name, 1, 200, 0 },
    { "choices", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 200, 0 },
    { "position", ngx_mam_fields_position, 0, 1000000, 0 },
    { "name", ngx_mam_fields_fixed, 0, 0, 0 },
    { "kind", ngx_mam_fields_fixed, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};


/* GET /api/projects/:id/fields (members) */
const ngx_mam_statement_t  ngx_mam_field_list = {
    "SELECT mam_field_list($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_field_outcomes, NGX_HTTP_OK, "items"
};

/* POST /api/projects/:id/fields (managers, admins) */
const ngx_mam_statement_t  ngx_mam_field_create = {
    "SELECT mam_field_create($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_FIELD(4), NGX_MAM_ARG_IP },
    ngx_mam_field_create_fields, 0, NULL,
    NULL, ngx_mam_field_outcomes, NGX_HTTP_CREATED, "field"
};

/* PATCH /api/fields/:id {label?, choices?, position?} (managers, admins) */
const ngx_mam_statement_t  ngx_mam_field_update = {
    "SELECT mam_field_update($1, $2, $3, $4, $5, $6, $7)", 7,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_IP },
    ngx_mam_field_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "label, choices or position: required",
    NULL, ngx_mam_field_outcomes, NGX_HTTP_OK, "field"
};

/* DELETE /api/fields/:id (managers, admins): its values go too */
const ngx_mam_statement_t  ngx_mam_field_delete = {
    "SELECT mam_field_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    NULL, ngx_mam_field_outcomes, NGX_HTTP_NO_CONTENT, NULL
};


/* --- bulk edit ----------------------------------------------------------- */

static const ngx_mam_field_t  ngx_mam_assets_bulk_fields[] = {
    { "ids", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 100, 1 },
    { "fields", ngx_mam_field_json, NGX_MAM_FIELD_JSON_OBJECT, 100, 0 },
    { "tags_add", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 50, 0 },
    { "tags_remove", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 50, 0 },
    { NULL, NULL, 0, 0, 0 }
};

/* PATCH /api/assets {ids, fields?, tags_add?, tags_remove?}: all or
 * nothing, one transaction */
const ngx_mam_statement_t  ngx_mam_assets_bulk = {
    "SELECT mam_assets_bulk($1, $2, $3, $4, $5, $6, $7)", 7,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3),
      NGX_MAM_ARG_IP },
    ngx_mam_assets_bulk_fields, 0, NULL,
    NULL, ngx_mam_bulk_outcomes, NGX_HTTP_OK, "items"
};

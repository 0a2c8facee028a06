/*
 * Statement routes: a route whose work is "check the request, run one
 * statement, answer" has no handler of its own.  Its row in the route
 * table points at an ngx_mam_statement_t that says which fields it takes
 * (of the body or the query string) and how each is checked, where each
 * parameter of the statement comes from, and how the statement's answer
 * becomes the HTTP answer: a function of the rows (reads, or an answer
 * with one more step that is not a query: removing files, writing Redis),
 * or the {"outcome": ...} of a SQL function through an outcome map
 * (writes).  Adding such an endpoint is a row, a statement and a test.
 */

#include "ngx_mam_pg.h"


typedef struct {
    const ngx_mam_statement_t  *st;
} ngx_mam_statement_ctx_t;


/* fields (a NULL-named row ends them), each checked: values[i] for
 * fields[i] (NULL: absent) and *present of them given; NULL, or the
 * message of a 400 */
const char *
ngx_mam_fields_check(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *fields, const char **values, ngx_uint_t *present)
{
    ngx_uint_t              i;
    const char             *message;
    const ngx_mam_field_t  *f;

    *present = 0;

    for (i = 0; fields[i].name; i++) {
        f = &fields[i];
        values[i] = NULL;

        message = f->check(r, ctx, f, &values[i]);
        if (message != NULL) {
            return message;
        }

        *present += (values[i] != NULL);
    }

    return NULL;
}


/* the path's :id when a parameter takes it, checked before the body as
 * the handlers did: NGX_OK, or NGX_ERROR when it is not a UUID */
static ngx_int_t
ngx_mam_statement_id(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_statement_t *st, const char **id)
{
    ngx_uint_t  i;

    *id = NULL;

    for (i = 0; i < st->nargs; i++) {
        if (st->args[i] == NGX_MAM_ARG_ID) {
            *id = ngx_mam_param_uuid(r, ctx, "id");
            return (*id != NULL) ? NGX_OK : NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_statement_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t                  i, arg, present;
    const char                **values, *message, *id;
    const char                 *fields[NGX_MAM_STATEMENT_MAX_FIELDS];
    const ngx_mam_statement_t  *st;

    st = ctx->route->statement;

    if (ngx_mam_statement_id(r, ctx, st, &id) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (st->fields != NULL) {
        message = ngx_mam_fields_check(r, ctx, st->fields, fields, &present);

        if (message == NULL && present == 0
            && (st->flags & NGX_MAM_STATEMENT_ANY_FIELD))
        {
            message = st->any_field_message;
        }

        if (message != NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
        }
    }

    values = NULL;

    if (st->nargs > 0) {
        values = ngx_pcalloc(r->pool, st->nargs * sizeof(char *));
        if (values == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
    }

    for (i = 0; i < st->nargs; i++) {
        arg = st->args[i];

        switch (arg) {

        case NGX_MAM_ARG_ID:
            values[i] = id;
            break;

        case NGX_MAM_ARG_USER:
            values[i] = ctx->user.sub;
            break;

        case NGX_MAM_ARG_SID:
            values[i] = ctx->user.sid;
            break;

        case NGX_MAM_ARG_ADMIN:
            values[i] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true"
                                                               : "false";
            break;

        case NGX_MAM_ARG_IP:
            values[i] = ngx_mam_ip(r);
            break;

        default:    /* NGX_MAM_ARG_FIELD(n), NGX_MAM_ARG_EXTRA(n) */
            values[i] = (arg >= NGX_MAM_ARG_EXTRA(0))
                        ? ctx->extra[arg - NGX_MAM_ARG_EXTRA(0)]
                        : fields[arg - NGX_MAM_ARG_FIELD(0)];
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: statement route \"%s\": %ui parameters",
                   ctx->route->pattern, st->nargs);

    if (ngx_mam_pg_query(r, st->sql, (int) st->nargs, values,
                         st->rows ? st->rows : ngx_mam_statement_answered,
                         (void *) st)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* an {"outcome": ...} answer through st's outcome map */
void
ngx_mam_statement_answered(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                     *v, *body;
    const ngx_mam_statement_t  *st = data;

    if (!(st->flags & NGX_MAM_STATEMENT_BARE)) {
        ngx_mam_answer_outcome(r, res, st->outcomes, st->status, st->name);
        return;
    }

    v = ngx_mam_outcome_ok(r, res, st->outcomes);
    if (v == NULL) {
        return;
    }

    body = json_object_get(v, st->name);

    ngx_http_finalize_request(r, ngx_mam_send_json(r, st->status, body));
}


/*
 * res: one jsonb {"outcome": name, ...}.  "ok" answers status with
 * {name: v[name]} (or 204 without a name); any other outcome is answered
 * from map.
 */
void
ngx_mam_answer_outcome(ngx_http_request_t *r, PGresult *res,
    const ngx_mam_outcome_t *map, ngx_uint_t status, const char *name)
{
    json_t  *v, *body;

    v = ngx_mam_outcome_ok(r, res, map);
    if (v == NULL) {
        return;
    }

    if (name == NULL) {
        ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
        return;
    }

    body = json_pack("{s:O}", name, json_object_get(v, name));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, status, body));
}


/* the jsonb answer of a SQL function when its outcome is "ok"; otherwise
 * the request is answered from map and NULL returned */
json_t *
ngx_mam_outcome_ok(ngx_http_request_t *r, PGresult *res,
    const ngx_mam_outcome_t *map)
{
    json_t  *v;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return NULL;
    }

    if (ngx_mam_outcome(v) != MAM_OUTCOME_OK) {
        ngx_mam_refuse_outcome(r, v, map);
        return NULL;
    }

    return v;
}


/* the refusal of map for v's outcome (a message may take one number of v,
 * its detail field; a function's own "message", naming the field or the
 * row refused, comes before the map's); an outcome map does not know is a
 * 500 */
void
ngx_mam_refuse_outcome(ngx_http_request_t *r, json_t *v,
    const ngx_mam_outcome_t *map)
{
    const char               *message, *name;
    mam_outcome_t             outcome;
    const ngx_mam_outcome_t  *o;

    outcome = ngx_mam_outcome(v);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: statement answered \"%s\"",
                   mam_outcome_name(outcome));

    for (o = map; outcome != MAM_OUTCOME_NONE && o->outcome; o++) {
        if (o->outcome == outcome) {
            message = o->detail
                      ? ngx_mam_message(r->pool, o->message,
                            json_number_value(json_object_get(v, o->detail)))
                      : o->message;

            if (json_is_string(json_object_get(v, "message"))) {
                message = json_string_value(json_object_get(v, "message"));
            }

            ngx_mam_fail(r, o->status, message);
            return;
        }
    }

    name = json_string_value(json_object_get(v, "outcome"));

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "mam: unexpected outcome \"%s\"", name ? name : "(none)");

    ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
}


/* --- field checks --------------------------------------------------------- */

/* a string of f->min..f->max characters */
const char *
ngx_mam_field_text(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_int_t    rc;
    ngx_str_t    s;
    const char  *message;

    rc = ngx_mam_body_string(r, ctx, f->name, f->min, f->max, f->required,
                             &s, &message);
    if (rc == NGX_ERROR) {
        return message;
    }

    if (rc == NGX_OK) {
        *out = ngx_mam_cstr(r->pool, &s);
        if (*out == NULL) {
            return "out of memory";
        }
    }

    return NULL;
}


/* a name or title: f->min..f->max characters, not only spaces */
const char *
ngx_mam_field_name(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message, *p;

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    for (p = *out; *p == ' '; p++) {
        /* void */
    }

    if (*p) {
        return NULL;
    }

    message = ngx_mam_message(r->pool, "%s: must not be blank", f->name);

    return message ? message : "out of memory";
}


/* true or false; absent or null is false */
const char *
ngx_mam_field_boolean(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, f->name) : NULL;

    if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
        return ngx_mam_message(r->pool, "%s: must be a boolean", f->name);
    }

    *out = json_is_true(v) ? "true" : "false";

    return NULL;
}


/* true or false; absent or null leaves the value as it is (NULL) */
const char *
ngx_mam_field_flag(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, f->name) : NULL;

    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    if (!json_is_boolean(v)) {
        return ngx_mam_message(r->pool, "%s: must be a boolean", f->name);
    }

    *out = json_is_true(v) ? "true" : "false";

    return NULL;
}


/* a UUID in the query string (as it came: a UUID has nothing to decode) */
const char *
ngx_mam_field_query_uuid(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_str_t  v;

    (void) ctx;

    if (ngx_http_arg(r, (u_char *) f->name, ngx_strlen(f->name), &v)
        != NGX_OK)
    {
        return NULL;
    }

    if (!mam_uuid_valid((char *) v.data, v.len)) {
        return ngx_mam_message(r->pool, "%s: must be a UUID", f->name);
    }

    *out = ngx_mam_cstr(r->pool, &v);

    return *out ? NULL : "out of memory";
}


/* a UUID, or null: "" (a folder_id's null is the root, absent is no
 * change: the SQL function tells them apart) */
const char *
ngx_mam_field_uuid_or_null(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, f->name) : NULL;

    if (v != NULL && json_is_null(v)) {
        *out = "";
        return NULL;
    }

    return ngx_mam_field_uuid(r, ctx, f, out);
}


/* a UUID */
const char *
ngx_mam_field_uuid(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message;

    message = ngx_mam_field_text(r, ctx, f, out);

    if (message != NULL
        || (*out != NULL && !mam_uuid_valid(*out, ngx_strlen(*out))))
    {
        *out = NULL;
        return ngx_mam_message(r->pool, "%s: must be a UUID", f->name);
    }

    return NULL;
}

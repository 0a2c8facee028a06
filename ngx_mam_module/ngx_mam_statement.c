/*
 * Statement routes: a route whose work is "check the body, run one
 * statement, answer" has no handler of its own.  Its row in the route
 * table points at an ngx_mam_statement_t that says which body fields it
 * takes and how each is checked, where each parameter of the statement
 * comes from, and how the statement's answer becomes the HTTP answer: a
 * function of the rows (reads), or the {"outcome": ...} of a SQL function
 * through an outcome map (writes).  Adding such an endpoint is a row, a
 * statement and a test.
 */

#include "ngx_mam_pg.h"


typedef struct {
    const ngx_mam_statement_t  *st;
} ngx_mam_statement_ctx_t;


/* the body fields of st, checked; values[i] for field i (NULL: absent) */
static const char *
ngx_mam_statement_fields(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_statement_t *st, const char **values)
{
    ngx_uint_t              i, present;
    const char             *message;
    const ngx_mam_field_t  *f;

    present = 0;

    for (i = 0; st->fields[i].name; i++) {
        f = &st->fields[i];
        values[i] = NULL;

        message = f->check(r, ctx, f, &values[i]);
        if (message != NULL) {
            return message;
        }

        present += (values[i] != NULL);
    }

    if (i > 0 && present == 0 && (st->flags & NGX_MAM_STATEMENT_ANY_FIELD)) {
        return st->any_field_message;
    }

    return NULL;
}


ngx_int_t
ngx_mam_statement_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t                  i, arg;
    const char                **values, *message;
    const char                 *fields[NGX_MAM_STATEMENT_MAX_FIELDS];
    const ngx_mam_statement_t  *st;

    st = ctx->route->statement;

    values = ngx_pcalloc(r->pool, st->nargs * sizeof(char *));
    if (values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (st->fields != NULL) {
        message = ngx_mam_statement_fields(r, ctx, st, fields);
        if (message != NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
        }
    }

    for (i = 0; i < st->nargs; i++) {
        arg = st->args[i];

        switch (arg) {

        case NGX_MAM_ARG_ID:
            values[i] = ngx_mam_param_uuid(r, ctx, "id");
            if (values[i] == NULL) {
                return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "id: must be a UUID");
            }
            break;

        case NGX_MAM_ARG_USER:
            values[i] = ctx->user.sub;
            break;

        case NGX_MAM_ARG_ADMIN:
            values[i] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true"
                                                               : "false";
            break;

        case NGX_MAM_ARG_IP:
            values[i] = ngx_mam_ip(r);
            break;

        default:    /* NGX_MAM_ARG_FIELD(n) */
            values[i] = fields[arg - NGX_MAM_ARG_FIELD(0)];
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
    const ngx_mam_statement_t  *st = data;

    ngx_mam_answer_outcome(r, res, st->outcomes, st->status, st->name);
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
 * its detail field); an outcome map does not know is a 500 */
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

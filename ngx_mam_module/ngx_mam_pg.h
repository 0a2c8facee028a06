/*
 * A per-worker PostgreSQL connection pool on libpq's asynchronous API,
 * driven by nginx events.  Handlers never touch libpq connections: they
 * queue a parameterized query and get a result (or NULL) in a callback.
 */

#ifndef _NGX_MAM_PG_H_INCLUDED_
#define _NGX_MAM_PG_H_INCLUDED_


#include "ngx_mam_module.h"

#include <libpq-fe.h>

#include "ngx_mam_sql.h"


/*
 * Called once per query, always from the event loop, never from inside
 * ngx_mam_pg_query().  res is NULL when PostgreSQL could not be reached
 * (no live connection, queue full, queue timeout, connection lost): the
 * caller answers 503.  res is freed after the handler returns.  The handler
 * is not called if the request went away first.
 */
typedef void (*ngx_mam_pg_handler_pt)(ngx_http_request_t *r, PGresult *res,
    void *data);


/* the same for the module's own queries (no request); the query lives in
 * mem, which must outlive the handler call */
typedef void (*ngx_mam_pg_task_pt)(PGresult *res, void *data);


ngx_mam_pg_pool_t *ngx_mam_pg_pool_create(ngx_cycle_t *cycle,
    ngx_mam_main_conf_t *mcf);
void ngx_mam_pg_pool_destroy(ngx_mam_pg_pool_t *pool);

/*
 * values[] (text format, NULL for SQL NULL) must live in r->pool; sql is
 * usually a literal.  Returns NGX_OK, or NGX_ERROR on allocation failure
 * (the handler is then never called).
 */
ngx_int_t ngx_mam_pg_query(ngx_http_request_t *r, const char *sql,
    int nparams, const char *const *values, ngx_mam_pg_handler_pt handler,
    void *data);

ngx_int_t ngx_mam_pg_task_query(ngx_mam_pg_pool_t *pool, ngx_pool_t *mem,
    const char *sql, int nparams, const char *const *values,
    ngx_mam_pg_task_pt handler, void *data);

/* the jsonb of a one-row, one-column result, released with pool; NULL
 * when res is not exactly that */
json_t *ngx_mam_pg_json(ngx_pool_t *pool, PGresult *res);

/* true when res is a successful command or tuples result */
ngx_int_t ngx_mam_pg_ok(PGresult *res);

/* a query without a usable answer fails its request: 503 unavailable when
 * PostgreSQL could not be reached (res NULL), 500 for the query's error */
void ngx_mam_pg_fail_request(ngx_http_request_t *r, PGresult *res);

/* ngx_mam_pg_json() for a request; NULL when the request was failed */
json_t *ngx_mam_pg_request_json(ngx_http_request_t *r, PGresult *res);


/* ngx_mam_rows.c: rows of the read statements (ngx_mam_sql.h) in answers */
#define NGX_MAM_ROW_TIME_LEN  sizeof("YYYY-MM-DDTHH:MM:SS.uuuuuuZ")

size_t ngx_mam_row_time(u_char *out, const char *t, size_t len,
    ngx_uint_t digits);
size_t ngx_mam_epoch_time(u_char *out, const u_char *t, size_t len);
void ngx_mam_answer_add_items(ngx_mam_answer_t *a, PGresult *res, int col,
    int from, int to);
/* {items, next_cursor} of a page's n rows, each an item in column col and
 * its id in col + 1; limit + 1 rows mean that the list goes on after row
 * limit - 1, whose cursor key is key (ngx_mam_assets.c) */
void ngx_mam_list_send(ngx_http_request_t *r, PGresult *res, int col, int n,
    ngx_uint_t limit, ngx_str_t *scope, ngx_str_t *key);
void ngx_mam_list_send_timed(ngx_http_request_t *r, PGresult *res, int col,
    int n, ngx_uint_t limit, ngx_str_t *scope);
ngx_int_t ngx_mam_cursor_timed(ngx_http_request_t *r, ngx_str_t *cursor,
    ngx_str_t *scope, char **id, char **at);
/* rows 0 .. n - 1, the next cursor from row next_row (-1: none) */
void ngx_mam_list_answer(ngx_http_request_t *r, PGresult *res, int col,
    int n, int next_row, ngx_str_t *scope, ngx_str_t *key);
/* ... with extra members (",\"unread\":3") after the items */
void ngx_mam_list_answer_with(ngx_http_request_t *r, PGresult *res, int col,
    int n, int next_row, ngx_str_t *scope, ngx_str_t *key, ngx_str_t *extra);


/* ngx_mam_statement.c: routes that are one statement (see there) */

/* where a parameter of the statement comes from */
#define NGX_MAM_ARG_ID        1       /* the path's :id, a UUID */
#define NGX_MAM_ARG_USER      2       /* the token's user */
#define NGX_MAM_ARG_ADMIN     3       /* "true" when the user is an admin */
#define NGX_MAM_ARG_IP        4       /* the client's address */
#define NGX_MAM_ARG_SID       5       /* the token's session */
#define NGX_MAM_ARG_FIELD(n)  (0x100 + (n))   /* body field n, or NULL */
#define NGX_MAM_ARG_EXTRA(n)  (0x200 + (n))   /* ctx->extra[n], or NULL */

#define NGX_MAM_STATEMENT_MAX_ARGS    16
#define NGX_MAM_STATEMENT_MAX_FIELDS  12

/* refuse a body without any of the fields */
#define NGX_MAM_STATEMENT_ANY_FIELD   0x01
/* "ok" answers v[name] itself, not {name: v[name]} */
#define NGX_MAM_STATEMENT_BARE        0x02


typedef struct ngx_mam_field_s  ngx_mam_field_t;

/* checks field f of the body: NULL and *out (NULL when absent), or the
 * message of a 400 */
typedef const char *(*ngx_mam_field_pt)(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx, const ngx_mam_field_t *f, const char **out);

struct ngx_mam_field_s {
    const char               *name;     /* in the body, or the query string */
    ngx_mam_field_pt          check;
    size_t                    min;       /* characters, for text */
    size_t                    max;
    ngx_uint_t                required;
};


/* an outcome of a SQL function and its answer; message is a format of
 * one double, v[detail], when detail is set.  A map ends with a row of
 * MAM_OUTCOME_NONE. */
typedef struct {
    mam_outcome_t             outcome;
    ngx_uint_t                status;
    const char               *message;
    const char               *detail;
} ngx_mam_outcome_t;


struct ngx_mam_statement_s {
    const char               *sql;
    ngx_uint_t                nargs;
    ngx_uint_t                args[NGX_MAM_STATEMENT_MAX_ARGS];
    const ngx_mam_field_t    *fields;    /* NULL-named row ends; or NULL */
    ngx_uint_t                flags;     /* NGX_MAM_STATEMENT_* */
    const char               *any_field_message;
    /* the answer: rows → JSON, or else the outcome map.  A route whose
     * answer takes one more step that is not a query (storage, Redis)
     * gives its own function as rows, called with the statement's result
     * as any row function is. */
    ngx_mam_pg_handler_pt     rows;
    const ngx_mam_outcome_t  *outcomes;
    ngx_uint_t                status;    /* of "ok" */
    const char               *name;      /* answer {name: ...}; NULL: 204 */
};

ngx_int_t ngx_mam_statement_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
void ngx_mam_statement_answered(ngx_http_request_t *r, PGresult *res,
    void *data);
void ngx_mam_answer_outcome(ngx_http_request_t *r, PGresult *res,
    const ngx_mam_outcome_t *map, ngx_uint_t status, const char *name);
void ngx_mam_refuse_outcome(ngx_http_request_t *r, json_t *v,
    const ngx_mam_outcome_t *map);
json_t *ngx_mam_outcome_ok(ngx_http_request_t *r, PGresult *res,
    const ngx_mam_outcome_t *map);
const char *ngx_mam_fields_check(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *fields, const char **values, ngx_uint_t *present);
const char *ngx_mam_field_text(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_name(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_uuid(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_uuid_or_null(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx, const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_boolean(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_flag(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
const char *ngx_mam_field_query_uuid(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx, const ngx_mam_field_t *f, const char **out);
/* ngx_mam_fields.c: a JSON object (min 1) or array (min 2) of at most max
 * members, as JSON text for a jsonb parameter */
const char *ngx_mam_field_json(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out);
#define NGX_MAM_FIELD_JSON_OBJECT  1
#define NGX_MAM_FIELD_JSON_ARRAY   2


/* ngx_mam_edge.c: the answers of sign-preview and of a download, from the outcome of
 * mam_preview_playable() and mam_version_download() (a review link's
 * guest is answered by the same two, ngx_mam_shares.c) */
typedef struct {
    time_t                    ttl;
} ngx_mam_sign_t;

void ngx_mam_sign_found(ngx_http_request_t *r, PGresult *res, void *data);
void ngx_mam_download_found(ngx_http_request_t *r, PGresult *res,
    void *data);


/* a review link's guest (issue 22): what a guest's request is refused
 * with, before or besides what a member's is (rows of an outcome map) */
#define NGX_MAM_SHARE_GUEST_OUTCOMES                                          \
    { MAM_OUTCOME_GONE, NGX_HTTP_GONE,                                        \
      "this link has expired or was revoked", NULL },                         \
    { MAM_OUTCOME_NO_SESSION, NGX_HTTP_UNAUTHORIZED,                          \
      "open the link first (POST /api/r/{token}/session)", NULL }


/* a worker's pool at a glance, for the metrics */
typedef struct {
    ngx_uint_t                idle;
    ngx_uint_t                busy;
    ngx_uint_t                down;      /* down or connecting */
    ngx_uint_t                waiting;
    ngx_uint_t                waits;     /* queries that queued, ever */
    ngx_uint_t                wait_msec; /* and their time in the queue */
} ngx_mam_pg_stats_t;

void ngx_mam_pg_stats(ngx_mam_pg_pool_t *pool, ngx_mam_pg_stats_t *st);

#endif /* _NGX_MAM_PG_H_INCLUDED_ */

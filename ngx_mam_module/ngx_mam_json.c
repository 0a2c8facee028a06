/*
 * JSON in and out (jansson): the request body as a JSON object, responses
 * dumped straight into a pool buffer, and the error shape of api.md.
 */

#include "ngx_mam_module.h"

#include "mam_body.h"


typedef struct {
    ngx_uint_t    status;
    const char   *code;
    const char   *message;
    const char   *status_line;   /* for codes nginx has no reason for */
} ngx_mam_error_t;


static const ngx_mam_error_t  ngx_mam_errors[] = {
    { 400, "invalid_request", "invalid request", NULL },
    { 401, "unauthorized", "authentication required", NULL },
    { 403, "forbidden", "forbidden", NULL },
    { 404, "not_found", "not found", NULL },
    { 405, "method_not_allowed", "method not allowed", NULL },
    { 409, "conflict", "conflict", NULL },
    { 410, "gone", "gone", NULL },
    { 411, "length_required", "Content-Length is required", NULL },
    { 413, "payload_too_large", "request body too large", NULL },
    { 414, "uri_too_long", "request URI too long", NULL },
    { 431, "headers_too_large", "request header fields too large",
      "431 Request Header Fields Too Large" },
    { 412, "precondition_failed", "Tus-Resumable: 1.0.0 is required",
      "412 Precondition Failed" },
    { 415, "unsupported_media_type", "Content-Type must be application/json",
      NULL },
    { 423, "locked", "another request is writing this upload", "423 Locked" },
    { 429, "rate_limited", "too many requests", NULL },
    { 460, "checksum_mismatch", "the chunk does not match Upload-Checksum",
      "460 Checksum Mismatch" },
    { 503, "unavailable", "service temporarily unavailable", NULL },
    { 500, "internal", "internal error", NULL },
    { 0, NULL, NULL, NULL }
};


static const ngx_mam_error_t *
ngx_mam_error_find(ngx_uint_t status)
{
    const ngx_mam_error_t  *e;

    for (e = ngx_mam_errors; e->status; e++) {
        if (e->status == status) {
            return e;
        }
    }

    /* unknown 4xx are the client's fault, anything else is ours */
    return (status >= 400 && status < 500) ? &ngx_mam_errors[0] : e - 1;
}


static void
ngx_mam_json_cleanup(void *data)
{
    json_decref(data);
}


ngx_int_t
ngx_mam_json_cleanup_add(ngx_pool_t *pool, json_t *value)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        json_decref(value);
        return NGX_ERROR;
    }

    cln->handler = ngx_mam_json_cleanup;
    cln->data = value;

    return NGX_OK;
}


#define NGX_MAM_ANSWER_BUF  8192


void
ngx_mam_answer_add(ngx_mam_answer_t *a, const char *text, size_t len)
{
    size_t        n;
    ngx_chain_t  *cl;

    while (len && !a->failed) {
        if (a->b == NULL || a->b->last == a->b->end) {
            cl = ngx_alloc_chain_link(a->pool);
            a->b = ngx_create_temp_buf(a->pool, NGX_MAM_ANSWER_BUF);
            if (cl == NULL || a->b == NULL) {
                a->failed = 1;
                return;
            }

            cl->buf = a->b;
            cl->next = NULL;
            *a->last = cl;
            a->last = &cl->next;
        }

        n = ngx_min(len, (size_t) (a->b->end - a->b->last));
        a->b->last = ngx_cpymem(a->b->last, text, n);
        a->size += n;
        text += n;
        len -= n;
    }
}


static int
ngx_mam_answer_write(const char *buf, size_t len, void *data)
{
    ngx_mam_answer_t  *a = data;

    ngx_mam_answer_add(a, buf, len);

    return a->failed ? -1 : 0;
}


void
ngx_mam_answer_init(ngx_http_request_t *r, ngx_mam_answer_t *a)
{
    ngx_memzero(a, sizeof(ngx_mam_answer_t));
    a->pool = r->pool;
    a->last = &a->first;
}


/*
 * value, serialized once into the answer's buffers (json_dumpb() would
 * need a pass to size a buffer and another to fill it, and jansson's dump
 * is the costliest part of a large answer)
 */
void
ngx_mam_answer_add_json(ngx_mam_answer_t *a, json_t *value)
{
    if (!a->failed
        && json_dump_callback(value, ngx_mam_answer_write, a,
                              NGX_MAM_JSON_FLAGS | JSON_ENCODE_ANY) != 0)
    {
        a->failed = 1;
    }
}


/* the answer written so far, ended by a newline, as a JSON body */
ngx_int_t
ngx_mam_answer_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_mam_answer_t *a)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *cc;

    ngx_mam_answer_text(a, "\n");

    if (a->failed) {
        return NGX_ERROR;
    }

    a->b->last_buf = (r == r->main);
    a->b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = a->size;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    ngx_str_set(&cc->value, "no-store");

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, a->first);
}


ngx_int_t
ngx_mam_send_json(ngx_http_request_t *r, ngx_uint_t status, json_t *value)
{
    ngx_mam_answer_t  a;

    ngx_mam_answer_init(r, &a);
    ngx_mam_answer_add_json(&a, value);

    return ngx_mam_answer_send(r, status, &a);
}


/* the answer as 200, or 500 when it could not be written; ends r */
void
ngx_mam_answer_finish(ngx_http_request_t *r, ngx_mam_answer_t *a)
{
    if (a->failed) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_answer_send(r, NGX_HTTP_OK, a));
}


/*
 * An answer before the request body was read (a refusal by the gate, a
 * size or lock check of an upload): the body is thrown away as nginx reads
 * it, never buffered, and without "100 Continue" (the client would send
 * it).  A no-op once the body is read or being read.
 */
void
ngx_mam_discard_unread_body(ngx_http_request_t *r)
{
    if (r != r->main || r->request_body || r->discard_body) {
        return;
    }

    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }
}


ngx_int_t
ngx_mam_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    json_t                 *body;
    ngx_int_t               rc;
    const ngx_mam_error_t  *e;

    ngx_mam_discard_unread_body(r);

    e = ngx_mam_error_find(status);
    if (e->status >= 500 && status != 503) {
        status = 500;
    }

    if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        r->keepalive = 0;
    }

    if (e->status == status && e->status_line) {
        r->headers_out.status_line.data = (u_char *) e->status_line;
        r->headers_out.status_line.len = ngx_strlen(e->status_line);
    }

    body = json_pack("{s:s, s:s}", "error", e->code,
                     "message", message ? message : e->message);
    if (body == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_mam_send_json(r, status, body);
    json_decref(body);

    return rc;
}


/*
 * `error_page 400 405 413 414 429 494 /_mam_api_error;` with
 * `location = /_mam_api_error { internal; mam_api_error; }`: nginx's own refusals
 * (before the module runs, or client_max_body_size) in api.md's error shape
 * instead of its HTML pages.  Without '=' in error_page the original status
 * is kept in err_status; 494 is nginx's private code for headers too large.
 */
ngx_int_t
ngx_mam_api_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t  status;

    status = r->err_status ? r->err_status : NGX_HTTP_BAD_REQUEST;
    if (status == NGX_HTTP_REQUEST_HEADER_TOO_LARGE) {
        status = 431;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam api error page: %ui", status);

    r->err_status = status;
    r->keepalive = 0;

    return ngx_mam_send_error(r, status, NULL);
}


static ngx_int_t
ngx_mam_json_content_type(ngx_http_request_t *r)
{
    u_char            *p, *last;
    ngx_table_elt_t   *h;

    static const char  type[] = "application/json";

    h = r->headers_in.content_type;
    if (h == NULL || h->value.len < sizeof(type) - 1) {
        return NGX_DECLINED;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (ngx_strncasecmp(p, (u_char *) type, sizeof(type) - 1) != 0) {
        return NGX_DECLINED;
    }

    p += sizeof(type) - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return (p == last || *p == ';') ? NGX_OK : NGX_DECLINED;
}


/*
 * The read body as one JSON object in *body (NULL when there is no body).
 * Returns NGX_OK, or the HTTP status to answer with *message.
 */
ngx_int_t
ngx_mam_json_body(ngx_http_request_t *r, json_t **body, ngx_str_t *raw,
    const char **message)
{
    off_t                 size;
    u_char               *buf, *p;
    json_t               *value;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    ngx_mam_main_conf_t  *mcf;

    *body = NULL;
    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        /* in a file only when larger than the in-memory buffer, which the
         * module keeps at least as large as the JSON limit */
        if (b->in_file || b->file) {
            *message = NULL;
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        size += b->last - b->pos;
    }

    if (size == 0) {
        return NGX_OK;
    }

    if ((size_t) size > mcf->json_body_limit) {
        *message = NULL;
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (ngx_mam_json_content_type(r) != NGX_OK) {
        *message = NULL;
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    buf = ngx_pnalloc(r->pool, (size_t) size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        /* an empty buffer may have no memory at all */
        if (cl->buf->last != cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    raw->data = buf;
    raw->len = (size_t) size;

    value = mam_body_parse((char *) buf, (size_t) size, message);
    if (value == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_mam_json_cleanup_add(r->pool, value) != NGX_OK) {
        json_decref(value);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *body = value;

    return NGX_OK;
}


ngx_int_t
ngx_mam_send_no_content(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    return (rc == NGX_ERROR || rc > NGX_OK) ? rc : ngx_http_send_special(r,
                                                          NGX_HTTP_LAST);
}


/* for asynchronous completions: answer with an error and finish */
void
ngx_mam_fail(ngx_http_request_t *r, ngx_uint_t status, const char *message)
{
    ngx_http_finalize_request(r, ngx_mam_send_error(r, status, message));
}


const char *
ngx_mam_message(ngx_pool_t *pool, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = ngx_pnalloc(pool, 256);
    if (p == NULL) {
        return "invalid request";
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + 255, fmt, args);
    va_end(args);

    *last = '\0';

    return (const char *) p;
}


/*
 * The string member `name` of the JSON body, min..max characters, with no
 * control characters.  NGX_OK, NGX_DECLINED when absent and not required,
 * or NGX_ERROR with *message for a 400.
 */
ngx_int_t
ngx_mam_body_string(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char *name, size_t min, size_t max, ngx_uint_t required,
    ngx_str_t *out, const char **message)
{
    int          rc;
    char        *msg;
    size_t       len;
    const char  *value;

    msg = ngx_pnalloc(r->pool, 256);
    if (msg == NULL) {
        *message = "invalid request";
        return NGX_ERROR;
    }

    rc = mam_body_string(ctx->body, name, min, max, (int) required, &value,
                         &len, msg, 256);
    if (rc == 1) {
        return NGX_DECLINED;
    }

    if (rc != 0) {
        *message = msg;
        return NGX_ERROR;
    }

    out->data = (u_char *) value;
    out->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_mam_add_header(ngx_http_request_t *r, const char *name, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


/* v's "outcome" (what the SQL functions answer) as the enum of
 * libmam/mam_outcomes.def: mapped once per answer, then compared as a
 * number; MAM_OUTCOME_NONE when v has none or one not in the list */
mam_outcome_t
ngx_mam_outcome(json_t *v)
{
    json_t  *o;

    o = json_object_get(v, "outcome");

    return mam_outcome_of(json_string_value(o), json_string_length(o));
}

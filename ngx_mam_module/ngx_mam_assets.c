/*
 * Assets and versions: create from the caller's own complete upload, list
 * (full-text search, keyset pagination with signed cursors, three sorts),
 * get with versions, update, soft delete, and promote (staging -> the
 * write-once master of the next version).
 *
 * Promote is two transactions around a file operation: an intent row with
 * the next version number, the master created exclusively on the thread
 * pool, then the version row (or the intent dropped).  A process that dies
 * in between leaves an intent that housekeeping settles from the file
 * system, so a version row never exists without its file and no master
 * stays an orphan.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_preview.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_storage.h"


#define NGX_MAM_LIST_DEFAULT   24
#define NGX_MAM_LIST_MAX       100
#define NGX_MAM_QUERY_MAX      200
#define NGX_MAM_CURSOR_MAX     1024
#define NGX_MAM_CURSOR_PREFIX  "mam-cursor\n"


/* --- shared pieces ------------------------------------------------------ */

/* what the asset functions answer besides "ok" */
static const ngx_mam_outcome_t  ngx_mam_asset_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only the owner (an editor of its project), a manager of its project "
      "or an admin may change this asset", NULL },
    { MAM_OUTCOME_NOT_MANAGER, NGX_HTTP_FORBIDDEN,
      "project_id: moving an asset takes a manager of both projects", NULL },
    { MAM_OUTCOME_NOT_YOURS, NGX_HTTP_FORBIDDEN,
      "staging_key: not your upload", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST,
      "staging_key: no such upload", NULL },
    { MAM_OUTCOME_INCOMPLETE, NGX_HTTP_BAD_REQUEST,
      "staging_key: the upload is not complete", NULL },
    { MAM_OUTCOME_TAKEN, NGX_HTTP_CONFLICT,
      "staging_key: the upload belongs to another asset", NULL },
    { MAM_OUTCOME_NOTHING, NGX_HTTP_CONFLICT,
      "nothing in staging to promote", NULL },
    { MAM_OUTCOME_UNKNOWN, NGX_HTTP_BAD_REQUEST,
      "folder_id: no such folder in the asset's project", NULL },
    { MAM_OUTCOME_BUSY, NGX_HTTP_CONFLICT,
      "a promote of this asset is in progress", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* what creating an asset answers besides "ok": the project's refusals,
 * then the upload's */
static const ngx_mam_outcome_t  ngx_mam_asset_create_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such project", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "project_id: only its editors and managers may add assets", NULL },
    { MAM_OUTCOME_NOTHING, NGX_HTTP_BAD_REQUEST,
      "project_id: required (you are not an editor of the default project)",
      NULL },
    { MAM_OUTCOME_NOT_YOURS, NGX_HTTP_FORBIDDEN,
      "staging_key: not your upload", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST,
      "staging_key: no such upload", NULL },
    { MAM_OUTCOME_INCOMPLETE, NGX_HTTP_BAD_REQUEST,
      "staging_key: the upload is not complete", NULL },
    { MAM_OUTCOME_TAKEN, NGX_HTTP_CONFLICT,
      "staging_key: the upload belongs to another asset", NULL },
    { MAM_OUTCOME_UNKNOWN, NGX_HTTP_BAD_REQUEST,
      "folder_id: no such folder in the asset's project", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* staging_key: a key under uploads/ */
static const char *
ngx_mam_assets_staging_key(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    size_t       len;
    const char  *message;

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    len = ngx_strlen(*out);

    if (len < sizeof(MAM_AREA_UPLOADS) - 1
        || ngx_strncmp(*out, MAM_AREA_UPLOADS,
                       sizeof(MAM_AREA_UPLOADS) - 1) != 0
        || !mam_key_valid(*out, len))
    {
        return "staging_key: not a staging key";
    }

    return NULL;
}


/* the fields of a create (title and staging_key required) and an update */
static const ngx_mam_field_t  ngx_mam_asset_create_fields[] = {
    { "title", ngx_mam_field_name, 1, 200, 1 },
    { "description", ngx_mam_field_text, 0, 5000, 0 },
    { "staging_key", ngx_mam_assets_staging_key, 1, MAM_KEY_MAX_LEN, 1 },
    { "project_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "folder_id", ngx_mam_field_uuid_or_null, 1, MAM_UUID_LEN, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_asset_update_fields[] = {
    { "title", ngx_mam_field_name, 1, 200, 0 },
    { "description", ngx_mam_field_text, 0, 5000, 0 },
    { "staging_key", ngx_mam_assets_staging_key, 1, MAM_KEY_MAX_LEN, 0 },
    { "project_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "fields", ngx_mam_field_json, NGX_MAM_FIELD_JSON_OBJECT, 100, 0 },
    { "tags", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 50, 0 },
    { "folder_id", ngx_mam_field_uuid_or_null, 1, MAM_UUID_LEN, 0 },
    { NULL, NULL, 0, 0, 0 }
};


static void
ngx_mam_asset_update_sent(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t  *v = data, *body;

    (void) reply;

    body = json_pack("{s:O}", "asset", json_object_get(v, "asset"));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        json_decref(body);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


/* the asset is changed; a move revoked its playback URLs (030): the edges
 * learn it before the answer */
static void
ngx_mam_asset_updated(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                     *v;
    const ngx_mam_statement_t  *st = data;

    v = ngx_mam_outcome_ok(r, res, st->outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_edge_revoke(r, json_object_get(v, "epochs"),
                        ngx_mam_asset_update_sent, v);
}


/* PATCH /api/assets/:id: the owner (an editor of its project), a manager
 * of its project or an admin; a new staging_key is the next version's
 * upload, a project_id a move (managers of both projects), a folder_id a
 * folder of its project (null: the root); fields and tags are checked in
 * SQL against the project's fields (fields.sql) */
const ngx_mam_statement_t  ngx_mam_asset_update = {
    "SELECT mam_asset_update($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    11,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_FIELD(4), NGX_MAM_ARG_FIELD(5),
      NGX_MAM_ARG_IP, NGX_MAM_ARG_FIELD(6) },
    ngx_mam_asset_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "title, description, staging_key, project_id, folder_id, fields or "
    "tags: required",
    ngx_mam_asset_updated, ngx_mam_asset_outcomes, NGX_HTTP_OK, "asset"
};


/* --- POST /api/assets ---------------------------------------------------- */

typedef struct {
    const char              **values;
    ngx_mam_storage_op_t      op;
} ngx_mam_create_t;


static void
ngx_mam_assets_created(ngx_http_request_t *r, PGresult *res, void *data)
{
    (void) data;

    ngx_mam_answer_outcome(r, res, ngx_mam_asset_create_outcomes,
                           NGX_HTTP_CREATED, "asset");
}


static void
ngx_mam_assets_create_query(ngx_http_request_t *r, ngx_mam_create_t *cr)
{
    if (ngx_mam_pg_query(r, "SELECT mam_asset_create($1, $2, $3, $4, $5, "
                            "$6, $7, $8)",
                         8, cr->values, ngx_mam_assets_created, NULL)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_assets_seen(ngx_http_request_t *r, PGresult *res, void *data)
{
    (void) res;

    ngx_mam_assets_create_query(r, data);
}


/* S3: the browser PUT straight to the bucket; a HEAD says it is there */
static void
ngx_mam_assets_staged(ngx_http_request_t *r, void *data)
{
    const char            **values;
    ngx_mam_storage_op_t   *op = data;
    ngx_mam_create_t       *cr = op->data;

    if (op->rc != MAM_STORAGE_OK) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "the storage cannot be reached");
        return;
    }

    if (op->size < 0) {
        /* not there: the create below answers "not complete" */
        ngx_mam_assets_create_query(r, cr);
        return;
    }

    values = ngx_palloc(r->pool, 2 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    values[0] = cr->values[5];
    values[1] = ngx_mam_message(r->pool, "%O", op->size);

    if (ngx_mam_pg_query(r, "SELECT mam_upload_seen($1, $2)", 2, values,
                         ngx_mam_assets_seen, cr)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


ngx_int_t
ngx_mam_assets_create_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t             present;
    const char            *fields[5], **values, *message;
    ngx_mam_create_t      *cr;
    ngx_mam_main_conf_t   *mcf;

    message = ngx_mam_fields_check(r, ctx, ngx_mam_asset_create_fields,
                                   fields, &present);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    values = ngx_palloc(r->pool, 8 * sizeof(char *));
    if (values == NULL || fields[0] == NULL || fields[2] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* without project_id: the default project (mam_project_for_asset) */
    values[0] = ctx->user.sub;
    values[1] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[2] = fields[3];
    values[3] = fields[0];
    values[4] = fields[1];
    values[5] = fields[2];
    values[6] = ngx_mam_ip(r);
    values[7] = fields[4];     /* folder_id: none or "" is the root */

    cr = ngx_pcalloc(r->pool, sizeof(ngx_mam_create_t));
    if (cr == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    cr->values = values;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->s3) {
        cr->op.op = NGX_MAM_STORAGE_SIZE;
        cr->op.key = values[5];
        cr->op.data = cr;
        if (ngx_mam_storage_run(r, &cr->op, ngx_mam_assets_staged)
            != NGX_OK)
        {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
        return NGX_DONE;
    }

    if (ngx_mam_pg_query(r, "SELECT mam_asset_create($1, $2, $3, $4, $5, "
                            "$6, $7, $8)",
                         8, values, ngx_mam_assets_created, NULL)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- GET /api/assets ----------------------------------------------------- */

typedef struct {
    ngx_str_t                 sort;
    ngx_uint_t                limit;
    char                     *user;      /* NULL: an admin's list */
    char                     *q;
    char                     *after_value;
    char                     *after_id;
    ngx_uint_t                merge;     /* a member's page: the merge of
                                            its projects' pages */
    ngx_mam_filter_t          filter;
} ngx_mam_list_t;


/* a query argument, '+' as space, percent-decoded, valid UTF-8 without NUL
 * or control characters; NGX_DECLINED when absent (the comment list uses it
 * too) */
ngx_int_t
ngx_mam_list_arg(ngx_http_request_t *r, const char *name, size_t max,
    ngx_str_t *out)
{
    ngx_str_t  raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_mam_arg_decode(r, &raw, max, out);
}


/* a raw query value decoded as ngx_mam_list_arg() does: NGX_OK or
 * NGX_ERROR (the filters use it for the arguments they find) */
ngx_int_t
ngx_mam_arg_decode(ngx_http_request_t *r, ngx_str_t *arg, size_t max,
    ngx_str_t *out)
{
    u_char     *p, *dst, *src;
    ngx_str_t   raw;

    raw = *arg;

    if (raw.len > 3 * max) {
        return NGX_ERROR;
    }

    dst = ngx_pnalloc(r->pool, raw.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    for (p = raw.data; p < raw.data + raw.len; p++) {
        if (*p == '+') {
            *p = ' ';
        }
    }

    out->data = dst;
    src = raw.data;
    ngx_unescape_uri(&dst, &src, raw.len, 0);
    out->len = dst - out->data;
    *dst = '\0';

    if (out->len > max) {
        return NGX_ERROR;
    }

    for (p = out->data; p < out->data + out->len; /* void */) {
        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        if (ngx_utf8_decode(&p, out->data + out->len - p) > 0x10ffff) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a row's id in a cursor: a UUID, or a row number (the audit log's) */
static ngx_int_t
ngx_mam_cursor_id_valid(const u_char *id, size_t len)
{
    size_t  i;

    if (mam_uuid_valid((const char *) id, len)) {
        return 1;
    }

    if (len == 0 || len > NGX_INT64_LEN - 1) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (id[i] < '0' || id[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * cursor = base64url(scope "\n" id "\n" key) "." HMAC of "mam-cursor\n" and
 * the same, with the cursor key.  The scope is what the cursor is valid for:
 * the asset list's sort, "comments:" and the asset's id, or "audit".
 * after_id and after_value get the id and the key of the last item of the
 * page.
 */
ngx_int_t
ngx_mam_cursor_parse(ngx_http_request_t *r, ngx_str_t *cursor,
    ngx_str_t *scope, char **after_id, char **after_value)
{
    u_char               *dot, *msg, *nl1, *nl2, *end;
    ngx_str_t             enc, payload;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    dot = ngx_strlchr(cursor->data, cursor->data + cursor->len, '.');
    if (dot == NULL) {
        return NGX_ERROR;
    }

    enc.data = cursor->data;
    enc.len = dot - cursor->data;

    payload.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(enc.len)
                                        + sizeof(NGX_MAM_CURSOR_PREFIX));
    if (payload.data == NULL) {
        return NGX_ERROR;
    }

    msg = payload.data;
    payload.data = ngx_cpymem(msg, NGX_MAM_CURSOR_PREFIX,
                              sizeof(NGX_MAM_CURSOR_PREFIX) - 1);

    if (ngx_decode_base64url(&payload, &enc) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!mam_hmac_verify(mcf->cursor_key.data, mcf->cursor_key.len, msg,
                         payload.data + payload.len - msg, (char *) dot + 1,
                         cursor->data + cursor->len - dot - 1))
    {
        return NGX_ERROR;
    }

    end = payload.data + payload.len;
    nl1 = ngx_strlchr(payload.data, end, '\n');
    nl2 = nl1 ? ngx_strlchr(nl1 + 1, end, '\n') : NULL;

    if (nl2 == NULL || (size_t) (nl1 - payload.data) != scope->len
        || ngx_strncmp(payload.data, scope->data, scope->len) != 0
        || !ngx_mam_cursor_id_valid(nl1 + 1, nl2 - nl1 - 1))
    {
        return NGX_ERROR;
    }

    *after_id = ngx_pnalloc(r->pool, nl2 - nl1);
    *after_value = ngx_pnalloc(r->pool, end - nl2);
    if (*after_id == NULL || *after_value == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(*after_id, nl1 + 1, nl2 - nl1 - 1) = '\0';
    *ngx_cpymem(*after_value, nl2 + 1, end - nl2 - 1) = '\0';

    return NGX_OK;
}


/* the cursor after the row id whose sort key is key */
json_t *
ngx_mam_cursor_make(ngx_http_request_t *r, ngx_str_t *scope, const char *id,
    ngx_str_t *key)
{
    size_t                len;
    u_char               *msg, *p, *out;
    ngx_str_t             payload, enc;
    char                  sig[MAM_SIG_LEN + 1];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    len = ngx_strlen(id);
    if (!ngx_mam_cursor_id_valid((const u_char *) id, len)) {
        return NULL;
    }

    msg = ngx_pnalloc(r->pool, sizeof(NGX_MAM_CURSOR_PREFIX) + scope->len
                               + len + key->len + 2);
    if (msg == NULL) {
        return NULL;
    }

    p = ngx_cpymem(msg, NGX_MAM_CURSOR_PREFIX,
                   sizeof(NGX_MAM_CURSOR_PREFIX) - 1);
    payload.data = p;
    p = ngx_sprintf(p, "%V\n%s\n%V", scope, id, key);
    payload.len = p - payload.data;

    if (mam_hmac_sign(mcf->cursor_key.data, mcf->cursor_key.len, msg, p - msg,
                      sig) != 0)
    {
        return NULL;
    }

    out = ngx_pnalloc(r->pool, ngx_base64_encoded_length(payload.len)
                               + 1 + MAM_SIG_LEN + 1);
    if (out == NULL) {
        return NULL;
    }

    enc.data = out;
    ngx_encode_base64url(&enc, &payload);
    p = out + enc.len;
    *p++ = '.';
    p = ngx_cpymem(p, sig, MAM_SIG_LEN);

    return json_stringn((char *) out, p - out);
}


void
ngx_mam_list_send(ngx_http_request_t *r, PGresult *res, int col, int n,
    ngx_uint_t limit, ngx_str_t *scope, ngx_str_t *key)
{
    if ((ngx_uint_t) n > limit) {
        ngx_mam_list_answer(r, res, col, limit, limit - 1, scope, key);
        return;
    }

    ngx_mam_list_answer(r, res, col, n, -1, scope, key);
}


/* a page of numbered rows, newest first by their exact time (the audit
 * log, a version's approvals): rows 0 .. n - 1 of at most limit + 1, the
 * item in column col, the row's number in col + 1 and its time in col + 2,
 * which is the cursor's key */
void
ngx_mam_list_send_timed(ngx_http_request_t *r, PGresult *res, int col, int n,
    ngx_uint_t limit, ngx_str_t *scope)
{
    ngx_str_t  key;

    ngx_str_null(&key);

    if ((ngx_uint_t) n > limit) {
        key.data = ngx_pnalloc(r->pool, NGX_MAM_ROW_TIME_LEN);
        if (key.data == NULL) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }

        key.len = ngx_mam_row_time(key.data,
                                   PQgetvalue(res, limit - 1, col + 2),
                                   PQgetlength(res, limit - 1, col + 2), 6);
        if (key.len == 0) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }

    ngx_mam_list_send(r, res, col, n, limit, scope, &key);
}


/* a cursor of such a page: NGX_OK with its row number and time, NGX_ERROR
 * for any other (a UUID row is another list's) */
ngx_int_t
ngx_mam_cursor_timed(ngx_http_request_t *r, ngx_str_t *cursor,
    ngx_str_t *scope, char **id, char **at)
{
    if (ngx_mam_cursor_parse(r, cursor, scope, id, at) != NGX_OK
        || ngx_strlen(*id) == MAM_UUID_LEN
        || ngx_strlen(*at) != NGX_MAM_ROW_TIME_LEN - 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void ngx_mam_list_answer_next(ngx_http_request_t *r, PGresult *res,
    int col, int n, json_t *next, ngx_str_t *extra);


/* {items, next_cursor} of rows 0 .. n - 1, the cursor that of row next
 * (its id in col + 1, its key) or null when next is -1: a page whose
 * rows are not one item each (the comments' threads) says where it ends */
void
ngx_mam_list_answer(ngx_http_request_t *r, PGresult *res, int col, int n,
    int next_row, ngx_str_t *scope, ngx_str_t *key)
{
    ngx_mam_list_answer_with(r, res, col, n, next_row, scope, key, NULL);
}


/* the same with more members after the items (extra: ",\"name\":value",
 * or NULL): the notifications' unread count */
void
ngx_mam_list_answer_with(ngx_http_request_t *r, PGresult *res, int col,
    int n, int next_row, ngx_str_t *scope, ngx_str_t *key, ngx_str_t *extra)
{
    json_t  *next;

    next = NULL;
    if (next_row >= 0) {
        next = ngx_mam_cursor_make(r, scope,
                                   PQgetvalue(res, next_row, col + 1), key);
        if (next == NULL
            || ngx_mam_json_cleanup_add(r->pool, next) != NGX_OK)
        {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }

    ngx_mam_list_answer_next(r, res, col, n, next, extra);
}


/* {items, next_cursor} of rows 0 .. n - 1 and the cursor next (NULL: the
 * list's end) */
static void
ngx_mam_list_answer_next(ngx_http_request_t *r, PGresult *res, int col,
    int n, json_t *next, ngx_str_t *extra)
{
    ngx_mam_answer_t  a;

    ngx_mam_answer_init(r, &a);
    ngx_mam_answer_text(&a, "{\"items\":[");
    ngx_mam_answer_add_items(&a, res, col, 0, n);
    ngx_mam_answer_text(&a, "]");

    if (extra != NULL) {
        ngx_mam_answer_add(&a, (char *) extra->data, extra->len);
    }

    ngx_mam_answer_text(&a, ",\"next_cursor\":");

    if (next) {
        ngx_mam_answer_add_json(&a, next);
    } else {
        ngx_mam_answer_text(&a, "null");
    }

    ngx_mam_answer_text(&a, "}");
    ngx_mam_answer_finish(r, &a);
}


static void ngx_mam_assets_listed(ngx_http_request_t *r, PGresult *res,
    void *data);


/* the statements of the list, by sort, search and cursor: an admin's
 * (every asset) */
static const char  *ngx_mam_asset_pages[3][2][2] = {
    {   /* -created_at */
        { NGX_MAM_SQL_ASSET_PAGE("", NGX_MAM_SQL_ORDER_NEW),
          NGX_MAM_SQL_ASSET_PAGE(NGX_MAM_SQL_AFTER_NEW("$2", "$3"),
                                 NGX_MAM_SQL_ORDER_NEW) },
        { NGX_MAM_SQL_ASSET_SEARCH("", NGX_MAM_SQL_ORDER_NEW),
          NGX_MAM_SQL_ASSET_SEARCH(NGX_MAM_SQL_AFTER_NEW("$3", "$4"),
                                   NGX_MAM_SQL_ORDER_NEW) } },
    {   /* created_at */
        { NGX_MAM_SQL_ASSET_PAGE("", NGX_MAM_SQL_ORDER_OLD),
          NGX_MAM_SQL_ASSET_PAGE(NGX_MAM_SQL_AFTER_OLD("$2", "$3"),
                                 NGX_MAM_SQL_ORDER_OLD) },
        { NGX_MAM_SQL_ASSET_SEARCH("", NGX_MAM_SQL_ORDER_OLD),
          NGX_MAM_SQL_ASSET_SEARCH(NGX_MAM_SQL_AFTER_OLD("$3", "$4"),
                                   NGX_MAM_SQL_ORDER_OLD) } },
    {   /* title */
        { NGX_MAM_SQL_ASSET_PAGE("", NGX_MAM_SQL_ORDER_TITLE),
          NGX_MAM_SQL_ASSET_PAGE(NGX_MAM_SQL_AFTER_TITLE("$2", "$3"),
                                 NGX_MAM_SQL_ORDER_TITLE) },
        { NGX_MAM_SQL_ASSET_SEARCH("", NGX_MAM_SQL_ORDER_TITLE),
          NGX_MAM_SQL_ASSET_SEARCH(NGX_MAM_SQL_AFTER_TITLE("$3", "$4"),
                                   NGX_MAM_SQL_ORDER_TITLE) } }
};


/* ... and everyone else's: the assets of the caller's projects, the user
 * the last parameter */
static const char  *ngx_mam_member_pages[3][2][2] = {
    {   /* -created_at */
        { NGX_MAM_SQL_MEMBER_PAGE("", NGX_MAM_SQL_ORDER_NEW, "$2"),
          NGX_MAM_SQL_MEMBER_PAGE(NGX_MAM_SQL_AFTER_NEW("$2", "$3"),
                                  NGX_MAM_SQL_ORDER_NEW, "$4") },
        { NGX_MAM_SQL_MEMBER_SEARCH("", NGX_MAM_SQL_ORDER_NEW, "$3"),
          NGX_MAM_SQL_MEMBER_SEARCH(NGX_MAM_SQL_AFTER_NEW("$3", "$4"),
                                    NGX_MAM_SQL_ORDER_NEW, "$5") } },
    {   /* created_at */
        { NGX_MAM_SQL_MEMBER_PAGE("", NGX_MAM_SQL_ORDER_OLD, "$2"),
          NGX_MAM_SQL_MEMBER_PAGE(NGX_MAM_SQL_AFTER_OLD("$2", "$3"),
                                  NGX_MAM_SQL_ORDER_OLD, "$4") },
        { NGX_MAM_SQL_MEMBER_SEARCH("", NGX_MAM_SQL_ORDER_OLD, "$3"),
          NGX_MAM_SQL_MEMBER_SEARCH(NGX_MAM_SQL_AFTER_OLD("$3", "$4"),
                                    NGX_MAM_SQL_ORDER_OLD, "$5") } },
    {   /* title */
        { NGX_MAM_SQL_MEMBER_PAGE("", NGX_MAM_SQL_ORDER_TITLE, "$2"),
          NGX_MAM_SQL_MEMBER_PAGE(NGX_MAM_SQL_AFTER_TITLE("$2", "$3"),
                                  NGX_MAM_SQL_ORDER_TITLE, "$4") },
        { NGX_MAM_SQL_MEMBER_SEARCH("", NGX_MAM_SQL_ORDER_TITLE, "$3"),
          NGX_MAM_SQL_MEMBER_SEARCH(NGX_MAM_SQL_AFTER_TITLE("$3", "$4"),
                                    NGX_MAM_SQL_ORDER_TITLE, "$5") } }
};


/* ... when the first answered less than a page (ngx_mam_sql.h: MEMBER_PAGE
 * is a scan of a bounded prefix): the merge of the caller's projects' own
 * pages, by sort and cursor */
#define NGX_MAM_MEMBER_MERGE(key, cmp, type, porder, order)                   \
    { NGX_MAM_SQL_MEMBER_MERGE("", porder, order, "$2"),                      \
      NGX_MAM_SQL_MEMBER_MERGE(NGX_MAM_SQL_AFTER_IN("m.project_id", key, cmp, \
                                                    "$2::" type, "$3"),       \
                               porder, order, "$4") }

static const char  *ngx_mam_member_merges[3][2] = {
    NGX_MAM_MEMBER_MERGE("created_at", "<", "timestamptz",
                         NGX_MAM_SQL_ORDER_P_NEW, NGX_MAM_SQL_ORDER_NEW),
    NGX_MAM_MEMBER_MERGE("created_at", ">", "timestamptz",
                         NGX_MAM_SQL_ORDER_P_OLD, NGX_MAM_SQL_ORDER_OLD),
    NGX_MAM_MEMBER_MERGE("title", ">", "text",
                         NGX_MAM_SQL_ORDER_P_TITLE, NGX_MAM_SQL_ORDER_TITLE)
};


/* the filtered pages (ngx_mam_sql.h: FACET_PAGE, FACET_SEARCH), by
 * caller (an admin's, a member's), sort, kind (a page, a page with a time
 * range, a search) and cursor; the parameters' numbers follow from which
 * of the optional ones the statement has */
#define NGX_MAM_FACET_SORT(o, fo, after, fafter, scope, sscope)               \
    { { NGX_MAM_SQL_FACET_PAGE("", "", fo, scope("$4")),                      \
        NGX_MAM_SQL_FACET_PAGE(fafter("$4", "$5"), "", fo, scope("$6")) },    \
      { NGX_MAM_SQL_FACET_PAGE("", NGX_MAM_SQL_RANGE("f", "$4", "$5"), fo,    \
                               scope("$6")),                                  \
        NGX_MAM_SQL_FACET_PAGE(fafter("$4", "$5"),                            \
                               NGX_MAM_SQL_RANGE("f", "$6", "$7"), fo,        \
                               scope("$8")) },                                \
      { NGX_MAM_SQL_FACET_SEARCH("", NGX_MAM_SQL_RANGE("a", "$4", "$5"), o,   \
                                 sscope("$6")),                               \
        NGX_MAM_SQL_FACET_SEARCH(after("$4", "$5"),                           \
                                 NGX_MAM_SQL_RANGE("a", "$6", "$7"), o,       \
                                 sscope("$8")) } }

#define NGX_MAM_NO_SCOPE(user)  ""

#define NGX_MAM_FACET_CALLER(scope, sscope)                                   \
    { NGX_MAM_FACET_SORT(NGX_MAM_SQL_ORDER_NEW, NGX_MAM_SQL_ORDER_F_NEW,      \
                         NGX_MAM_SQL_AFTER_NEW, NGX_MAM_SQL_AFTER_F_NEW,      \
                         scope, sscope),                                      \
      NGX_MAM_FACET_SORT(NGX_MAM_SQL_ORDER_OLD, NGX_MAM_SQL_ORDER_F_OLD,      \
                         NGX_MAM_SQL_AFTER_OLD, NGX_MAM_SQL_AFTER_F_OLD,      \
                         scope, sscope),                                      \
      NGX_MAM_FACET_SORT(NGX_MAM_SQL_ORDER_TITLE, NGX_MAM_SQL_ORDER_F_TITLE,  \
                         NGX_MAM_SQL_AFTER_TITLE, NGX_MAM_SQL_AFTER_F_TITLE,  \
                         scope, sscope) }

static const char  *ngx_mam_facet_pages[2][3][3][2] = {
    NGX_MAM_FACET_CALLER(NGX_MAM_NO_SCOPE, NGX_MAM_NO_SCOPE),
    NGX_MAM_FACET_CALLER(NGX_MAM_SQL_FACET_SCOPE, NGX_MAM_SQL_SEARCH_SCOPE)
};


/* the pages a project drives (ngx_mam_sql.h: PROJECT_PAGE), by whether
 * other tokens are tested, caller, sort, kind (a page, a page with a time
 * range) and cursor, with the facet pages' parameters; a search with a
 * project is a facet search */
#define NGX_MAM_PROJECT_SORT(ot, ok, o, after, scope)                         \
    { { NGX_MAM_SQL_PROJECT_PAGE(ot, ok, "", "", o, scope("$4")),             \
        NGX_MAM_SQL_PROJECT_PAGE(ot, ok, after("$4", "$5"), "", o,            \
                                 scope("$6")) },                              \
      { NGX_MAM_SQL_PROJECT_PAGE(ot, ok, "", NGX_MAM_SQL_RANGE_P("$4", "$5"), \
                                 o, scope("$6")),                             \
        NGX_MAM_SQL_PROJECT_PAGE(ot, ok, after("$4", "$5"),                   \
                                 NGX_MAM_SQL_RANGE_P("$6", "$7"), o,          \
                                 scope("$8")) } }

#define NGX_MAM_PROJECT_CALLER(ot, ok, scope)                                 \
    { NGX_MAM_PROJECT_SORT(ot, ok, NGX_MAM_SQL_ORDER_P_NEW,                   \
                           NGX_MAM_SQL_AFTER_P_NEW, scope),                   \
      NGX_MAM_PROJECT_SORT(ot, ok, NGX_MAM_SQL_ORDER_P_OLD,                   \
                           NGX_MAM_SQL_AFTER_P_OLD, scope),                   \
      NGX_MAM_PROJECT_SORT(ot, ok, NGX_MAM_SQL_ORDER_P_TITLE,                 \
                           NGX_MAM_SQL_AFTER_P_TITLE, scope) }

#define NGX_MAM_PROJECT_OTHERS(ot, ok)                                        \
    { NGX_MAM_PROJECT_CALLER(ot, ok, NGX_MAM_NO_SCOPE),                       \
      NGX_MAM_PROJECT_CALLER(ot, ok, NGX_MAM_SQL_PROJECT_SCOPE) }

static const char  *ngx_mam_project_pages[2][2][3][2][2] = {
    NGX_MAM_PROJECT_OTHERS("", NGX_MAM_SQL_NO_OTHERS),
    NGX_MAM_PROJECT_OTHERS(NGX_MAM_SQL_OTHERS("a"), NGX_MAM_SQL_OTHERS_OK)
};


/* the pages of a folder, a tag or a field value, whose rows carry the
 * items (ngx_mam_sql.h: ITEM_PAGE), by whether other tokens are tested,
 * caller, sort and cursor, with the facet pages' parameters.  A page in a
 * time range is a facet page: with the range in the item page's WHERE,
 * PostgreSQL would rather fetch the range's rows and sort them, which
 * costs a wide range all its rows */
#define NGX_MAM_ITEM_SORT(ot, ok, o, after, scope)                            \
    { NGX_MAM_SQL_ITEM_PAGE(ot, ok, "", o, scope("$4")),                      \
      NGX_MAM_SQL_ITEM_PAGE(ot, ok, after("$4", "$5"), o, scope("$6")) }

#define NGX_MAM_ITEM_CALLER(ot, ok, scope)                                    \
    { NGX_MAM_ITEM_SORT(ot, ok, NGX_MAM_SQL_ORDER_F_NEW,                      \
                        NGX_MAM_SQL_AFTER_F_NEW, scope),                      \
      NGX_MAM_ITEM_SORT(ot, ok, NGX_MAM_SQL_ORDER_F_OLD,                      \
                        NGX_MAM_SQL_AFTER_F_OLD, scope),                      \
      NGX_MAM_ITEM_SORT(ot, ok, NGX_MAM_SQL_ORDER_F_TITLE,                    \
                        NGX_MAM_SQL_AFTER_F_TITLE, scope) }

#define NGX_MAM_ITEM_OTHERS(ot, ok)                                           \
    { NGX_MAM_ITEM_CALLER(ot, ok, NGX_MAM_NO_SCOPE),                          \
      NGX_MAM_ITEM_CALLER(ot, ok, NGX_MAM_SQL_FACET_SCOPE) }

static const char  *ngx_mam_item_pages[2][2][3][2] = {
    NGX_MAM_ITEM_OTHERS("", NGX_MAM_SQL_NO_OTHERS),
    NGX_MAM_ITEM_OTHERS(NGX_MAM_SQL_OTHERS("f"), NGX_MAM_SQL_OTHERS_OK)
};

/* the same pages in one project, the only other token (filter.in_project):
 * by caller, sort and cursor */
static const char  *ngx_mam_item_project_pages[2][3][2] = {
    NGX_MAM_ITEM_CALLER(NGX_MAM_SQL_IN_PROJECT("f"), NGX_MAM_SQL_OTHERS_OK,
                        NGX_MAM_NO_SCOPE),
    NGX_MAM_ITEM_CALLER(NGX_MAM_SQL_IN_PROJECT("f"), NGX_MAM_SQL_OTHERS_OK,
                        NGX_MAM_SQL_IN_PROJECT_SCOPE)
};


/*
 * The cursor after a page's row (the last of a full page): the id and the
 * sort key, the title (column 3) or the exact creation time, both from
 * page_key (column 2, ngx_mam_sql.h: ASSET_COLS), the id, a space and the
 * time in seconds since 1970.  NULL when the row is not what it should be.
 */
static json_t *
ngx_mam_assets_cursor(ngx_http_request_t *r, ngx_mam_list_t *ls,
    PGresult *res, int row)
{
    char       *id;
    size_t      len;
    u_char     *pk;
    ngx_str_t   key;

    pk = (u_char *) PQgetvalue(res, row, 2);
    len = PQgetlength(res, row, 2);

    id = ngx_pnalloc(r->pool, MAM_UUID_LEN + 1);
    key.data = ngx_pnalloc(r->pool, NGX_MAM_ROW_TIME_LEN);
    if (id == NULL || key.data == NULL) {
        return NULL;
    }

    key.len = (len > MAM_UUID_LEN + 1 && pk[MAM_UUID_LEN] == ' ')
              ? ngx_mam_epoch_time(key.data, pk + MAM_UUID_LEN + 1,
                                   len - MAM_UUID_LEN - 1)
              : 0;

    if (key.len == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mam: row %d of an asset page has no page key", row);
        return NULL;
    }

    *ngx_cpymem(id, pk, MAM_UUID_LEN) = '\0';

    if (ls->sort.len == 5) {
        key.data = (u_char *) PQgetvalue(res, row, 3);
        key.len = PQgetlength(res, row, 3);
    }

    return ngx_mam_cursor_make(r, &ls->sort, id, &key);
}


/* a filtered page: [driver | q] limit tokens [value id] [from to] [user] */
static ngx_int_t
ngx_mam_assets_filtered_query(ngx_http_request_t *r, ngx_mam_list_t *ls,
    ngx_uint_t sort, const char **values)
{
    int           n;
    ngx_uint_t    kind, others;
    const char   *sql;

    /* a page, a page in a time range, a search (always in one) */
    kind = ls->q ? 2 : (ls->filter.from || ls->filter.to) ? 1 : 0;

    n = 0;
    values[n++] = ls->q ? ls->q : (char *) ls->filter.driver.data;
    values[n++] = ngx_mam_message(r->pool, "%ui", ls->limit + 1);
    values[n++] = ls->q ? (char *) ls->filter.tokens.data
                        : (char *) ls->filter.others.data;

    if (ls->after_id != NULL) {
        values[n++] = ls->after_value;
        values[n++] = ls->after_id;
    }

    if (kind != 0) {
        values[n++] = ls->filter.from ? ls->filter.from : "-infinity";
        values[n++] = ls->filter.to ? ls->filter.to : "infinity";
    }

    if (ls->user != NULL) {
        values[n++] = ls->user;
    }

    others = (ls->filter.others.len != 0);

    if (ls->filter.project && kind != 2) {
        sql = ngx_mam_project_pages[others][ls->user != NULL][sort][kind]
                                   [ls->after_id != NULL];

    } else if (ls->filter.in_project && kind == 0) {
        values[2] = (char *) ls->filter.others.data + sizeof("p:") - 1;
        sql = ngx_mam_item_project_pages[ls->user != NULL][sort]
                                        [ls->after_id != NULL];

    } else if (ls->filter.items && kind == 0) {
        sql = ngx_mam_item_pages[others][ls->user != NULL][sort]
                                [ls->after_id != NULL];

    } else {
        sql = ngx_mam_facet_pages[ls->user != NULL][sort][kind]
                                 [ls->after_id != NULL];
    }

    if (ngx_mam_pg_query(r, sql, n, values, ngx_mam_assets_listed, ls)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_mam_assets_list_query(ngx_http_request_t *r, ngx_mam_list_t *ls)
{
    int           n;
    ngx_uint_t    sort;
    const char  **values, *sql;

    values = ngx_palloc(r->pool, 8 * sizeof(char *));
    if (values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    sort = (ls->sort.len == 5) ? 2 : (ls->sort.data[0] == '-') ? 0 : 1;

    if (ls->filter.on) {
        return ngx_mam_assets_filtered_query(r, ls, sort, values);
    }

    n = 0;

    /* the parameters in the statement's order: [q] limit [value id] */
    if (ls->q != NULL) {
        values[n++] = ls->q;
    }

    values[n++] = ngx_mam_message(r->pool, "%ui", ls->limit + 1);

    if (ls->after_id != NULL) {
        values[n++] = ls->after_value;
        values[n++] = ls->after_id;
    }

    if (ls->merge) {
        values[n++] = ls->user;
        sql = ngx_mam_member_merges[sort][ls->after_id != NULL];

    } else if (ls->user != NULL) {
        values[n++] = ls->user;
        sql = ngx_mam_member_pages[sort][ls->q != NULL][ls->after_id != NULL];

    } else {
        sql = ngx_mam_asset_pages[sort][ls->q != NULL][ls->after_id != NULL];
    }

    if (ngx_mam_pg_query(r, sql, n, values, ngx_mam_assets_listed, ls)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* the page asked again, with another statement, from the first's answer */
static void
ngx_mam_assets_list_again(ngx_http_request_t *r, ngx_mam_list_t *ls)
{
    ngx_int_t  rc;

    rc = ngx_mam_assets_list_query(r, ls);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_mam_assets_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int              n;
    json_t          *next;
    ngx_int_t        words;
    ngx_mam_list_t  *ls = data;

    if (!ngx_mam_pg_ok(res) || PQnfields(res) != 1 + NGX_MAM_SQL_ASSET_NCOLS) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    /* a search always has its first row, with the words of q */
    n = PQntuples(res);
    words = n ? ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                         PQgetlength(res, 0, 0))
              : 0;

    if (words > 8) {
        ngx_mam_fail(r, NGX_HTTP_BAD_REQUEST, "q: at most 8 words");
        return;
    }

    /* a q of no word ("--") filters nothing: the list without it (rare,
     * so it costs the second query rather than every search a condition
     * that keeps PostgreSQL from the search index) */
    if (ls->q != NULL && words == 0) {
        ls->q = NULL;
        ngx_mam_assets_list_again(r, ls);
        return;
    }

    /* a member's short page may be the scan's cap, not the list's end
     * (ngx_mam_sql.h: MEMBER_PAGE): the merge answers it (a member of
     * small projects, and the last page of anyone's list) */
    if (ls->user != NULL && ls->q == NULL && !ls->filter.on && !ls->merge
        && (ngx_uint_t) n <= ls->limit)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mam: member page of %i rows, merging projects", n);

        ls->merge = 1;
        ngx_mam_assets_list_again(r, ls);
        return;
    }

    /* a search without a match is one row of NULLs */
    if (n == 1 && PQgetisnull(res, 0, 1)) {
        n = 0;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: asset page of %i rows, sort \"%V\"", n, &ls->sort);

    if ((ngx_uint_t) n <= ls->limit) {
        ngx_mam_list_answer_next(r, res, 1, n, NULL, NULL);
        return;
    }

    next = ngx_mam_assets_cursor(r, ls, res, ls->limit - 1);
    if (next == NULL || ngx_mam_json_cleanup_add(r->pool, next) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_mam_list_answer_next(r, res, 1, ls->limit, next, NULL);
}


/* limit: 1..100, 24 when absent (the comment list uses it too) */
ngx_int_t
ngx_mam_list_limit(ngx_http_request_t *r, ngx_uint_t *limit)
{
    return ngx_mam_list_limit_or(r, NGX_MAM_LIST_DEFAULT, limit);
}


/* limit: 1..100, dflt when absent (the audit log's is not the assets') */
ngx_int_t
ngx_mam_list_limit_or(ngx_http_request_t *r, ngx_uint_t dflt,
    ngx_uint_t *limit)
{
    ngx_int_t  rc, n;
    ngx_str_t  v;

    *limit = dflt;

    rc = ngx_mam_list_arg(r, "limit", 3, &v);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        if (n < 1 || n > NGX_MAM_LIST_MAX) {
            return NGX_ERROR;
        }
        *limit = n;
    }

    return NGX_OK;
}


static const char *
ngx_mam_assets_list_args(ngx_http_request_t *r, ngx_mam_list_t *ls)
{
    ngx_int_t   rc;
    ngx_str_t   v;

    ngx_str_set(&ls->sort, "-created_at");
    rc = ngx_mam_list_arg(r, "sort", 16, &v);
    if (rc == NGX_ERROR) {
        return "sort: must be created_at, -created_at or title";
    }
    if (rc == NGX_OK) {
        if (!((v.len == 10 && ngx_strncmp(v.data, "created_at", 10) == 0)
              || (v.len == 11 && ngx_strncmp(v.data, "-created_at", 11) == 0)
              || (v.len == 5 && ngx_strncmp(v.data, "title", 5) == 0)))
        {
            return "sort: must be created_at, -created_at or title";
        }
        ls->sort = v;
    }

    if (ngx_mam_list_limit(r, &ls->limit) != NGX_OK) {
        return "limit: must be 1..100";
    }

    rc = ngx_mam_list_arg(r, "q", NGX_MAM_QUERY_MAX, &v);
    if (rc == NGX_ERROR) {
        return "q: must be at most 200 bytes of text";
    }
    if (rc == NGX_OK) {
        ls->q = (char *) v.data;
    }

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_CURSOR_MAX, &v);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_mam_cursor_parse(r, &v, &ls->sort, &ls->after_id,
                                    &ls->after_value)
               != NGX_OK))
    {
        return "cursor: not a cursor this server issued for this sort";
    }

    return ngx_mam_filter_args(r, &ls->filter);
}


ngx_int_t
ngx_mam_assets_list_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char      *message;
    ngx_mam_list_t  *ls;

    ls = ngx_pcalloc(r->pool, sizeof(ngx_mam_list_t));
    if (ls == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* an admin sees every asset; anyone else those of their projects */
    if (!ngx_mam_has_role(ctx, MAM_ROLE_ADMIN)) {
        ls->user = ctx->user.sub;
    }

    message = ngx_mam_assets_list_args(r, ls);
    if (message == ngx_mam_filter_nomem) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    return ngx_mam_assets_list_query(r, ls);
}


/* --- GET /api/assets/:id ------------------------------------------------- */

static void
ngx_mam_assets_got(ngx_http_request_t *r, PGresult *res, void *data)
{
    int               n;
    ngx_mam_answer_t  a;

    (void) data;

    if (!ngx_mam_pg_ok(res) || PQnfields(res) != 2) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    n = PQntuples(res);
    if (n == 0) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such asset");
        return;
    }

    /* rows: the asset with each version, newest first; without a version
     * one row whose version is NULL */
    if (n == 1 && PQgetisnull(res, 0, 1)) {
        n = 0;
    }

    ngx_mam_answer_init(r, &a);
    ngx_mam_answer_text(&a, "{\"asset\":");
    ngx_mam_answer_add_items(&a, res, 0, 0, 1);
    ngx_mam_answer_text(&a, ",\"versions\":[");
    ngx_mam_answer_add_items(&a, res, 1, 0, n);
    ngx_mam_answer_text(&a, "]}");
    ngx_mam_answer_finish(r, &a);
}


/* GET /api/assets/:id: the asset and its versions, newest first */
const ngx_mam_statement_t  ngx_mam_asset_get = {
    NGX_MAM_SQL_ASSET_GET, 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_USER },
    NULL, 0, NULL,
    ngx_mam_assets_got, NULL, NGX_HTTP_OK, NULL
};


/* --- DELETE /api/assets/:id ---------------------------------------------- */

static void
ngx_mam_assets_previews_removed(ngx_http_request_t *r, void *data)
{
    ngx_mam_storage_op_t  *op = data;

    if (op->rc != MAM_STORAGE_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, op->err,
                      "mam: previews \"%s\" of a deleted asset could not be "
                      "removed", op->key);
    }

    ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
}


/* the edges know its playback URLs are revoked: its previews go (the
 * masters stay: a soft delete keeps them), then 204 */
static void
ngx_mam_assets_revoked(ngx_http_request_t *r, redisReply *reply, void *data)
{
    const char            *id;
    ngx_mam_ctx_t         *ctx;
    ngx_mam_storage_op_t  *op;

    (void) reply;
    (void) data;

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    id = ngx_mam_param_uuid(r, ctx, "id");
    op = ngx_pcalloc(r->pool, sizeof(ngx_mam_storage_op_t));

    if (id == NULL || op == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    op->op = NGX_MAM_STORAGE_REMOVE_TREE;
    op->key = ngx_mam_message(r->pool, MAM_AREA_PREVIEWS "%s", id);

    if (ngx_mam_storage_run(r, op, ngx_mam_assets_previews_removed)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* the asset is deleted: its playback URLs stop (030), then the previews */
static void
ngx_mam_assets_deleted(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_asset_outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_edge_revoke(r, json_object_get(v, "epochs"),
                        ngx_mam_assets_revoked, NULL);
}


/* DELETE /api/assets/:id: the owner or an admin; a soft delete */
const ngx_mam_statement_t  ngx_mam_asset_delete = {
    "SELECT mam_asset_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_assets_deleted, NULL, NGX_HTTP_NO_CONTENT, NULL
};


/* --- POST /api/promote --------------------------------------------------- */

typedef struct {
    char                     *promotion;
    ngx_mam_storage_op_t      op;
} ngx_mam_promote_t;


static void
ngx_mam_promote_answer(ngx_http_request_t *r, void *data)
{
    json_t  *v = data, *body;

    body = json_pack("{s:O}", "version", json_object_get(v, "version"));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_CREATED, body));
}


/* the version and its first job are recorded: enqueue, then answer */
static void
ngx_mam_promote_finished(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_asset_outcomes);
    if (v == NULL) {
        return;
    }

    /* the new version's news for whoever commented on the asset */
    ngx_mam_notify_publish(r, v);

    ngx_mam_preview_dispatch(r, json_object_get(v, "entry"),
                             json_object_get(v, "event"),
                             ngx_mam_promote_answer, v);
}


static void
ngx_mam_promote_aborted(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_mam_promote_t  *pr = data;

    (void) res;

    switch (pr->op.rc) {

    case MAM_STORAGE_MISSING:
        ngx_mam_fail(r, NGX_HTTP_CONFLICT, "nothing in staging to promote");
        return;

    case MAM_STORAGE_EXISTS:
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the master of this version already exists");
        return;

    default:
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* back from the thread pool: record the version, or drop the intent */
static void
ngx_mam_promote_moved(ngx_http_request_t *r, void *data)
{
    const char            **values;
    ngx_mam_storage_op_t   *op = data;
    ngx_mam_promote_t      *pr = op->data;

    values = ngx_palloc(r->pool, 2 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = pr->promotion;
    values[1] = ngx_mam_ip(r);

    if (pr->op.rc != MAM_STORAGE_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, pr->op.err,
                      "mam: promote \"%s\" -> \"%s\" failed (%d)",
                      pr->op.from_key, pr->op.key, pr->op.rc);

        if (ngx_mam_pg_query(r, "SELECT mam_promote_abort($1)", 1, values,
                             ngx_mam_promote_aborted, pr)
            != NGX_OK)
        {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        }
        return;
    }

    if (ngx_mam_pg_query(r, "SELECT mam_promote_finish($1, $2)", 2, values,
                         ngx_mam_promote_finished, pr)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_promote_begun(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t             *v, *promotion, *from, *to;
    ngx_mam_promote_t  *pr = data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_asset_outcomes);
    if (v == NULL) {
        return;
    }

    promotion = json_object_get(v, "promotion");
    from = json_object_get(v, "staging_key");
    to = json_object_get(v, "master_key");
    if (!json_is_string(promotion) || !json_is_string(from)
        || !json_is_string(to))
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    pr->promotion = (char *) json_string_value(promotion);
    pr->op.op = NGX_MAM_STORAGE_PROMOTE;
    pr->op.from_key = json_string_value(from);
    pr->op.key = json_string_value(to);
    pr->op.data = pr;

    if (ngx_mam_storage_run(r, &pr->op, ngx_mam_promote_moved) != NGX_OK) {
        pr->op.rc = MAM_STORAGE_ERROR;
        ngx_mam_promote_moved(r, &pr->op);
    }
}


ngx_int_t
ngx_mam_promote_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_str_t            id;
    const char         **values, *message;
    ngx_mam_promote_t   *pr;

    if (ngx_mam_body_string(r, ctx, "asset_id", 1, MAM_UUID_LEN, 1, &id,
                            &message) != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (!mam_uuid_valid((char *) id.data, id.len)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "asset_id: must be a UUID");
    }

    pr = ngx_pcalloc(r->pool, sizeof(ngx_mam_promote_t));
    values = ngx_palloc(r->pool, 3 * sizeof(char *));
    if (pr == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_cstr(r->pool, &id);
    values[1] = ctx->user.sub;
    values[2] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";

    if (values[0] == NULL
        || ngx_mam_pg_query(r, "SELECT mam_promote_begin($1, $2, $3)", 3,
                            values, ngx_mam_promote_begun, pr)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}

/*
 * Time-coded comments and the review workflow (issue 21): list (threads
 * ordered by timestamp_sec, then created_at, a page at a time, each
 * followed by its replies), create (a thread or a reply, with a range and
 * a drawing), edit (the author), resolve and reopen, delete; a version's
 * approval and its history.  Who may do what is the SQL functions'
 * (schema/functions/comments.sql, approvals.sql).  Each change is
 * published on mam:previews (the asset's event streams: {asset_id,
 * comment: {id, version_id, parent_id, action}} or {asset_id, approval:
 * {version_id, status}}).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_preview.h"
#include "mam_annotation.h"
#include "mam_body.h"


#define NGX_MAM_COMMENT_MAX      4000
#define NGX_MAM_TIMESTAMP_MAX    999999999.0   /* numeric(12, 3) */
#define NGX_MAM_FRAME_MAX        999999999     /* comments_frame_range */
#define NGX_MAM_CURSOR_MAX       1024
#define NGX_MAM_NOTE_MAX         2000          /* version_approvals_note */


/* a reply (parent_id) has its thread's time, version and frame, and no
 * range or drawing of its own */
static ngx_uint_t
ngx_mam_comments_is_reply(ngx_mam_ctx_t *ctx)
{
    json_t  *v;

    v = json_object_get(ctx->body, "parent_id");

    return v != NULL && !json_is_null(v);
}


/* parent_id: the thread's first comment (a UUID; the SQL function finds
 * it on the asset and refuses a reply); what a reply cannot take is
 * refused with it, not ignored, so a client learns what was not stored */
static const char *
ngx_mam_comments_parent(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t       *v;
    ngx_uint_t    i;
    const char   *message;

    static const char  *not_in_reply[] = {
        "timestamp_sec", "frame", "version_id", "duration_sec",
        "duration_frames", "annotation", NULL
    };

    message = ngx_mam_field_uuid(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    for (i = 0; not_in_reply[i]; i++) {
        v = json_object_get(ctx->body, not_in_reply[i]);
        if (v != NULL && !json_is_null(v)) {
            return ngx_mam_message(r->pool, "%s: a reply takes content only "
                                   "(it has its thread's time and version)",
                                   not_in_reply[i]);
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_mam_comments_space(u_char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


/* the string f->name trimmed of spaces and line breaks, no control
 * characters but line breaks and tabs: *out the text, *chars its
 * characters; NULL, or the message of a 400 */
static const char *
ngx_mam_comments_trimmed(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, size_t max, const char **out, size_t *chars)
{
    u_char     *p, *start, *end;
    json_t     *v;
    ngx_str_t   s;

    v = json_object_get(ctx->body, f->name);
    if (!json_is_string(v)) {
        return ngx_mam_message(r->pool, "%s: must be a string of at most "
                               "%uz characters", f->name, max);
    }

    start = (u_char *) json_string_value(v);
    end = start + json_string_length(v);

    for (p = start; p < end; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
            || *p == 0x7f)
        {
            return ngx_mam_message(r->pool, "%s: must not contain control "
                                   "characters", f->name);
        }
    }

    while (start < end && ngx_mam_comments_space(*start)) {
        start++;
    }
    while (end > start && ngx_mam_comments_space(end[-1])) {
        end--;
    }

    *chars = mam_utf8_chars((char *) start, end - start);
    if (*chars > max) {
        return ngx_mam_message(r->pool, "%s: must be at most %uz characters",
                               f->name, max);
    }

    s.data = start;
    s.len = end - start;
    *out = ngx_mam_cstr(r->pool, &s);

    return *out ? NULL : "out of memory";
}


/* content: text of 1..4000 characters after trimming; line breaks and tabs
 * are the only control characters allowed */
static const char *
ngx_mam_comments_content(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    size_t       n;
    const char  *message;

    message = ngx_mam_comments_trimmed(r, ctx, f, NGX_MAM_COMMENT_MAX, out,
                                       &n);
    if (message == NULL && n < 1) {
        *out = NULL;
        message = "content: must be 1..4000 characters";
    }

    return message;
}


/* timestamp_sec: seconds, 0 or more, to the millisecond of the column */
static const char *
ngx_mam_comments_timestamp(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char  *ts;
    json_t  *t;
    double   sec;

    t = json_object_get(ctx->body, f->name);

    /* a range's duration_sec is optional, a reply has neither */
    if ((!f->required || ngx_mam_comments_is_reply(ctx))
        && (t == NULL || json_is_null(t)))
    {
        return NULL;
    }

    /* NaN cannot come from JSON, and is in no range anyway */
    sec = json_is_number(t) ? json_number_value(t) : -1;

    if (!(sec >= 0 && sec <= NGX_MAM_TIMESTAMP_MAX)) {
        return ngx_mam_message(r->pool, "%s: must be a number of seconds, "
                               "0 or more", f->name);
    }

    ts = ngx_pnalloc(r->pool, 32);
    if (ts == NULL) {
        return "out of memory";
    }

    *ngx_sprintf(ts, "%.3f", sec) = '\0';
    *out = (char *) ts;

    return NULL;
}


/* frame (issue 20): optional, a JSON integer 0..999999999, the frame the
 * reviewer saw; absent or null stores none (the server derives none) */
static const char *
ngx_mam_comments_frame(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char      *p;
    json_t      *v;
    json_int_t   n;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    /* a real (2.0), a string or a boolean is refused, not converted */
    n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (n < 0 || n > NGX_MAM_FRAME_MAX) {
        return ngx_mam_message(r->pool, "%s: must be an integer from 0 to "
                               "999999999", f->name);
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return "out of memory";
    }

    *ngx_sprintf(p, "%L", (int64_t) n) = '\0';
    *out = (const char *) p;

    return NULL;
}


/* duration_frames (issue 21): a range's frames, as frame is its start's:
 * the client's, checked like frame, and only with duration_sec */
static const char *
ngx_mam_comments_frames(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t      *v;
    const char  *message;

    message = ngx_mam_comments_frame(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    v = json_object_get(ctx->body, "duration_sec");
    if (v == NULL || json_is_null(v)) {
        *out = NULL;
        return "duration_frames: needs duration_sec";
    }

    return NULL;
}


/* annotation (issue 21): optional, the drawing on the frame, checked and
 * written out anew by libmam (mam_annotation.c): what is stored, and
 * answered, is that canonical text, never the client's bytes */
static const char *
ngx_mam_comments_annotation(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    char       *text, *msg;
    json_t     *v;
    ngx_str_t   s;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    msg = ngx_pnalloc(r->pool, 256);
    if (msg == NULL) {
        return "out of memory";
    }

    if (mam_annotation_canonical(v, MAM_ANNOTATION_BYTES_MAX, &text, msg,
                                 256)
        != 0)
    {
        return msg;
    }

    s.data = (u_char *) text;
    s.len = ngx_strlen(text);
    *out = ngx_mam_cstr(r->pool, &s);
    free(text);

    return *out ? NULL : "out of memory";
}


/* what mam_comment_write() refuses, a member's comment or a guest's (and
 * bad_parent, which the guest's function refuses itself too: each map
 * names it); the function's own messages say which (no such parent, a
 * reply) */
#define NGX_MAM_COMMENT_WRITE_OUTCOMES                                        \
    { MAM_OUTCOME_BEYOND, NGX_HTTP_BAD_REQUEST,                               \
      "timestamp_sec: must be at most the duration (%.3f s)",                 \
      "duration_sec" },                                                       \
    { MAM_OUTCOME_BAD_FRAME, NGX_HTTP_BAD_REQUEST,                            \
      "frame: must be within one frame of timestamp_sec at the version's "    \
      "frame rate (%.3f)", "frame_rate" },                                    \
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT,                                \
      "a thread holds at most 100 replies", NULL }


/* what the comment functions answer besides "ok" */
static const ngx_mam_outcome_t  ngx_mam_comment_create_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "a viewer of the project may not comment", NULL },
    { MAM_OUTCOME_BAD_VERSION, NGX_HTTP_BAD_REQUEST,
      "version_id: not a version of this asset", NULL },
    NGX_MAM_COMMENT_WRITE_OUTCOMES,
    { MAM_OUTCOME_BAD_PARENT, NGX_HTTP_BAD_REQUEST,
      "parent_id: not a thread of this asset", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_comment_update_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such comment", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only its author may edit a comment", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_comment_resolve_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such comment", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only the author, the asset's owner, an editor or manager of the "
      "project or an admin may resolve or reopen a thread", NULL },
    { MAM_OUTCOME_IS_REPLY, NGX_HTTP_BAD_REQUEST,
      "a reply is not resolved on its own: resolve its thread's first "
      "comment", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_comment_delete_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such comment", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only the author, a manager of the project or an admin may delete "
      "a comment", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* a comment created or deleted: its event published, then the answer of
 * the statement (data) */
static void
ngx_mam_comments_changed(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                     *v, *body;
    const ngx_mam_statement_t  *st = data;

    v = ngx_mam_outcome_ok(r, res, st->outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_preview_publish(r, json_object_get(v, "event"));
    ngx_mam_notify_publish(r, v);

    if (st->name == NULL) {
        ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
        return;
    }

    body = json_pack("{s:O}", st->name, json_object_get(v, st->name));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, st->status, body));
}


/* POST /api/assets/:id/comments: a commenter of the project and above;
 * parent_id first, so that a reply's extra fields are named as such */
static const ngx_mam_field_t  ngx_mam_comment_fields[] = {
    { "parent_id", ngx_mam_comments_parent, 1, MAM_UUID_LEN, 0 },
    { "timestamp_sec", ngx_mam_comments_timestamp, 0, 0, 1 },
    { "content", ngx_mam_comments_content, 0, 0, 1 },
    { "version_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "frame", ngx_mam_comments_frame, 0, 0, 0 },
    { "duration_sec", ngx_mam_comments_timestamp, 0, 0, 0 },
    { "duration_frames", ngx_mam_comments_frames, 0, 0, 0 },
    { "annotation", ngx_mam_comments_annotation, 0, 0, 0 },
    /* issue 22: members only (a guest's is never internal: ignored) */
    { "internal", ngx_mam_field_boolean, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_comment_create = {
    "SELECT mam_comment_create($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " $12, $13)", 13,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(1),
      NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_IP,
      NGX_MAM_ARG_FIELD(4), NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(5),
      NGX_MAM_ARG_FIELD(6), NGX_MAM_ARG_FIELD(7), NGX_MAM_ARG_FIELD(8) },
    ngx_mam_comment_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_create_outcomes,
    NGX_HTTP_CREATED, "comment"
};

/* a review link's guest (issue 22) */
static const ngx_mam_outcome_t  ngx_mam_share_comment_outcomes[] = {
    NGX_MAM_SHARE_GUEST_OUTCOMES,
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such link or asset",
      NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "this link does not allow comments", NULL },
    { MAM_OUTCOME_BAD_VERSION, NGX_HTTP_BAD_REQUEST,
      "version_id: not a version this link shows", NULL },
    NGX_MAM_COMMENT_WRITE_OUTCOMES,
    { MAM_OUTCOME_BAD_PARENT, NGX_HTTP_BAD_REQUEST,
      "parent_id: not a thread of this asset", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

/* POST /api/r/{token}/assets/:id/comments: a guest's comment, as a
 * member's (the same fields but internal), where the link allows it */
const ngx_mam_statement_t  ngx_mam_share_comment = {
    "SELECT mam_share_comment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " $12)", 12,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_ID,
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3),
      NGX_MAM_ARG_IP, NGX_MAM_ARG_FIELD(4), NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(5), NGX_MAM_ARG_FIELD(6), NGX_MAM_ARG_FIELD(7) },
    ngx_mam_comment_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_share_comment_outcomes,
    NGX_HTTP_CREATED, "comment"
};

/* PATCH /api/comments/:id {content}: its author */
static const ngx_mam_field_t  ngx_mam_comment_edit_fields[] = {
    { "content", ngx_mam_comments_content, 0, 0, 1 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_comment_update = {
    "SELECT mam_comment_update($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_IP },
    ngx_mam_comment_edit_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_update_outcomes,
    NGX_HTTP_OK, "comment"
};

/* POST /api/comments/:id/resolve and /reopen: a thread's first comment, by
 * its author, the asset's owner, an editor or manager, an admin */
const ngx_mam_statement_t  ngx_mam_comment_resolve = {
    "SELECT mam_comment_resolve($1, $2, $3, true, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_resolve_outcomes,
    NGX_HTTP_OK, "comment"
};

const ngx_mam_statement_t  ngx_mam_comment_reopen = {
    "SELECT mam_comment_resolve($1, $2, $3, false, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_resolve_outcomes,
    NGX_HTTP_OK, "comment"
};

/* DELETE /api/comments/:id: the author, a manager of the asset's project
 * or an admin */
const ngx_mam_statement_t  ngx_mam_comment_delete = {
    "SELECT mam_comment_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_delete_outcomes,
    NGX_HTTP_NO_CONTENT, NULL
};


/* --- GET /api/assets/:id/comments ---------------------------------------- */

/*
 * A page of threads in keyset order (timestamp_sec, created_at, id) of
 * their first comments, each followed by its replies (ngx_mam_sql.h);
 * limit counts threads.  limit and cursor as for assets; a cursor's scope
 * is "comments:" and the asset's id, so it serves no other asset and no
 * asset list.  A cursor is a position only: status and mine are the
 * request's, as the audit log's filters are.
 */

typedef struct {
    ngx_str_t     scope;
    ngx_uint_t    limit;
} ngx_mam_comments_page_t;


/* the cursor key of a page's row: "timestamp_sec created_at", the two sort
 * values before the id, created_at to the microsecond */
static ngx_int_t
ngx_mam_comments_key(ngx_http_request_t *r, PGresult *res, int row,
    ngx_str_t *key)
{
    size_t  n, len;

    len = PQgetlength(res, row, 2);
    if (len > 31) {
        return NGX_ERROR;
    }

    key->data = ngx_pnalloc(r->pool, len + 1 + NGX_MAM_ROW_TIME_LEN);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key->data, PQgetvalue(res, row, 2), len);
    key->data[len++] = ' ';
    n = ngx_mam_row_time(key->data + len, PQgetvalue(res, row, 3),
                         PQgetlength(res, row, 3), 6);
    key->len = len + n;

    return n ? NGX_OK : NGX_ERROR;
}


/* the rows of a page read for a parent (an asset's threads, a version's
 * decisions): no row is no such parent (404 missing), one row of NULLs
 * none of its rows; -1 when the request was answered */
static int
ngx_mam_comments_rows(ngx_http_request_t *r, PGresult *res, int ncols,
    const char *missing)
{
    int  n;

    if (!ngx_mam_pg_ok(res) || PQnfields(res) != ncols) {
        ngx_mam_pg_fail_request(r, res);
        return -1;
    }

    n = PQntuples(res);
    if (n == 0) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, missing);
        return -1;
    }

    return (n == 1 && PQgetisnull(res, 0, 0)) ? 0 : n;
}


static void
ngx_mam_comments_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                       i, n, end, last;
    ngx_str_t                 key;
    ngx_uint_t                threads;
    ngx_mam_comments_page_t  *pg = data;

    n = ngx_mam_comments_rows(r, res, NGX_MAM_SQL_COMMENT_NCOLS,
                              "no such asset");
    if (n < 0) {
        return;
    }

    /* the rows of the first limit threads; a thread after them means the
     * list goes on after the last of them, the row "last" */
    end = n;
    last = -1;
    threads = 0;

    for (i = 0; i < n; i++) {
        if (PQgetvalue(res, i, 4)[0] == 't') {
            continue;                   /* a reply */
        }

        if (threads == pg->limit) {
            end = i;
            break;
        }

        threads++;
        last = i;
    }

    if (end < n
        && (last < 0 || ngx_mam_comments_key(r, res, last, &key) != NGX_OK))
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_mam_list_answer(r, res, 0, end, end < n ? last : -1, &pg->scope,
                        &key);
}


/* status: "" (all), open or resolved; mine: 1 or true (0, false: all) */
static const char *
ngx_mam_comments_filters(ngx_http_request_t *r, const char **status,
    const char **mine)
{
    ngx_int_t  rc;
    ngx_str_t  v;

    *status = "";
    *mine = "false";

    rc = ngx_mam_list_arg(r, "status", 16, &v);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && !(v.len == 4 && ngx_strncmp(v.data, "open", 4) == 0)
            && !(v.len == 8 && ngx_strncmp(v.data, "resolved", 8) == 0)))
    {
        return "status: must be open or resolved";
    }

    if (rc == NGX_OK) {
        *status = (v.len == 4) ? "open" : "resolved";
    }

    rc = ngx_mam_list_arg(r, "mine", 8, &v);
    if (rc == NGX_ERROR) {
        return "mine: must be 1 or 0";
    }

    if (rc == NGX_OK) {
        if ((v.len == 1 && v.data[0] == '1')
            || (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0))
        {
            *mine = "true";

        } else if (!(v.len == 1 && v.data[0] == '0')
                   && !(v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0))
        {
            return "mine: must be 1 or 0";
        }
    }

    return NULL;
}


ngx_int_t
ngx_mam_comments_list_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    u_char                   *space;
    ngx_int_t                 rc;
    ngx_str_t                 v;
    char                     *after, *after_id;
    const char               *message;
    const char              **values;
    ngx_mam_comments_page_t  *pg;

    values = ngx_pcalloc(r->pool, 9 * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_comments_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_param_uuid(r, ctx, "id");
    if (values[0] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (ngx_mam_list_limit(r, &pg->limit) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "limit: must be 1..100");
    }

    message = ngx_mam_comments_filters(r, &values[7], &values[8]);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    pg->scope.data = (u_char *) ngx_mam_message(r->pool, "comments:%s",
                                                values[0]);
    if (pg->scope.data == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    pg->scope.len = ngx_strlen(pg->scope.data);

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_CURSOR_MAX, &v);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_mam_cursor_parse(r, &v, &pg->scope, &after_id, &after)
               != NGX_OK))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "cursor: not a cursor this server issued "
                                  "for this asset's comments");
    }

    /* the first page starts before every comment */
    values[1] = ngx_mam_message(r->pool, "%ui", pg->limit + 1);
    values[2] = "-1";
    values[3] = "-infinity";
    values[4] = "00000000-0000-0000-0000-000000000000";

    if (rc == NGX_OK) {
        /* the key: "timestamp_sec created_at" */
        space = ngx_strlchr((u_char *) after,
                            (u_char *) after + ngx_strlen(after), ' ');
        if (space == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "cursor: not a comment cursor");
        }

        *space = '\0';
        values[2] = after;
        values[3] = (char *) space + 1;
        values[4] = after_id;
    }

    /* the asset only for whom may see it */
    values[5] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[6] = ctx->user.sub;

    if (ngx_mam_pg_query(r, NGX_MAM_SQL_COMMENT_PAGE, 9, values,
                         ngx_mam_comments_listed, pg)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- a version's approval (issue 21) --------------------------------------- */

/* status: one of the four a version may be in */
static const char *
ngx_mam_approval_status(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_uint_t   i;
    const char  *s;

    static const char  *statuses[] = {
        "none", "in_review", "changes_requested", "approved", NULL
    };

    (void) r;

    s = json_string_value(json_object_get(ctx->body, f->name));

    for (i = 0; s != NULL && statuses[i]; i++) {
        if (ngx_strcmp(s, statuses[i]) == 0) {
            *out = statuses[i];
            return NULL;
        }
    }

    return "status: must be in_review, changes_requested, approved or none";
}


/* note: optional, 1..2000 characters after trimming, like a comment's
 * content (line breaks and tabs allowed); empty or blank is none */
static const char *
ngx_mam_approval_note(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    size_t       n;
    json_t      *v;
    const char  *message;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    message = ngx_mam_comments_trimmed(r, ctx, f, NGX_MAM_NOTE_MAX, out, &n);
    if (message == NULL && n == 0) {
        *out = NULL;            /* only spaces: no note */
    }

    return message;
}


static const ngx_mam_outcome_t  ngx_mam_approval_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such version", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only an editor or manager of the project, the asset's owner or an "
      "admin may set a version's approval", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_share_approval_outcomes[] = {
    NGX_MAM_SHARE_GUEST_OUTCOMES,
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such link or version",
      NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "this link does not allow approval", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* PUT /api/versions/:id/approval {status, note?} → 200 {version} */
static const ngx_mam_field_t  ngx_mam_approval_fields[] = {
    { "status", ngx_mam_approval_status, 0, 0, 1 },
    { "note", ngx_mam_approval_note, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_version_approve = {
    "SELECT mam_version_approve($1, $2, $3, $4, $5, $6)", 6,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_approval_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_approval_outcomes,
    NGX_HTTP_OK, "version"
};

/* --- GET /api/versions/:id/approvals ----------------------------------- */

/*
 * A version's decisions, newest first, a keyset page at a time
 * (ngx_mam_sql.h): limit 1..100 (default 100, the one page there was
 * before paging), the cursor the audit log's kind (a row number and an
 * exact time) with the scope "approvals:" and the version's id, so it
 * serves no other version and no other list.
 */

#define NGX_MAM_APPROVALS_DEFAULT  100

typedef struct {
    ngx_str_t     scope;
    ngx_uint_t    limit;
} ngx_mam_approvals_page_t;


static void
ngx_mam_approvals_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                        n;
    ngx_mam_approvals_page_t  *pg = data;

    n = ngx_mam_comments_rows(r, res, NGX_MAM_SQL_APPROVAL_NCOLS,
                              "no such version");
    if (n < 0) {
        return;
    }

    ngx_mam_list_send_timed(r, res, 0, n, pg->limit, &pg->scope);
}


/* the cursor: after its time and row number, or the first page's bounds */
static const char *
ngx_mam_approvals_cursor(ngx_http_request_t *r, ngx_mam_approvals_page_t *pg,
    const char **values)
{
    char       *id, *at;
    ngx_int_t   rc;
    ngx_str_t   v;

    values[2] = "infinity";
    values[3] = "0";

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_CURSOR_MAX, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    /* decisions are numbered: a UUID is another list's row */
    if (rc != NGX_OK
        || ngx_mam_cursor_timed(r, &v, &pg->scope, &id, &at) != NGX_OK)
    {
        return "cursor: not a cursor this server issued for this version's "
               "approvals";
    }

    values[2] = at;
    values[3] = id;

    return NULL;
}


ngx_int_t
ngx_mam_approvals_list_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char                **values, *message;
    ngx_mam_approvals_page_t   *pg;

    values = ngx_pcalloc(r->pool, 6 * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_approvals_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_param_uuid(r, ctx, "id");
    if (values[0] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (ngx_mam_list_limit_or(r, NGX_MAM_APPROVALS_DEFAULT, &pg->limit)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "limit: must be 1..100");
    }

    pg->scope.data = (u_char *) ngx_mam_message(r->pool, "approvals:%s",
                                                values[0]);
    if (pg->scope.data == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    pg->scope.len = ngx_strlen(pg->scope.data);

    message = ngx_mam_approvals_cursor(r, pg, values);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    values[1] = ngx_mam_message(r->pool, "%ui", pg->limit + 1);
    values[4] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[5] = ctx->user.sub;

    if (values[1] == NULL
        || ngx_mam_pg_query(r, NGX_MAM_SQL_APPROVAL_PAGE, 6, values,
                            ngx_mam_approvals_listed, pg)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* PUT /api/r/{token}/versions/:id/approval {status, note?}: a guest's
 * decision, where the link allows it (issue 22) */
const ngx_mam_statement_t  ngx_mam_share_approve = {
    "SELECT mam_share_approve($1, $2, $3, $4, $5, $6)", 6,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_ID,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_approval_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_share_approval_outcomes,
    NGX_HTTP_OK, "version"
};


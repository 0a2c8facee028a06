/*
 * The asset list's filters (issue 19): project, folder, tag, field.NAME,
 * status, owner, approval (issue 21: the latest version's review status)
 * (tokens of the asset's facets, schema 020) and
 * created_from/created_to (a range of created_at).  Each filter is checked
 * here and becomes a token; the page reads the rows of the narrowest one,
 * the driving token, and checks the others on the asset (ngx_mam_sql.h).
 */

#include "ngx_mam_pg.h"

#include "mam_util.h"


#define NGX_MAM_FILTER_MAX        8     /* tokens in one request */
#define NGX_MAM_FILTER_VALUE_MAX  200   /* a tag's or a field value's bytes */


/* what ngx_mam_filter_args() answers when memory ran out: a 500, not a 400 */
const char  ngx_mam_filter_nomem[] = "";


/* the kinds of token, narrowest first: the first a request has drives */
enum {
    NGX_MAM_FACET_FOLDER = 0,
    NGX_MAM_FACET_FIELD,
    NGX_MAM_FACET_TAG,
    NGX_MAM_FACET_OWNER,
    NGX_MAM_FACET_PROJECT,
    NGX_MAM_FACET_STATUS,
    NGX_MAM_FACET_APPROVAL,
    NGX_MAM_FACET_KINDS
};


typedef struct {
    ngx_str_t    token[NGX_MAM_FILTER_MAX];
    ngx_uint_t   kind[NGX_MAM_FILTER_MAX];
    ngx_uint_t   n;
} ngx_mam_tokens_t;


/* prefix [name "="] value as a token; NULL or the message of the 400 */
static const char *
ngx_mam_filter_token(ngx_http_request_t *r, ngx_mam_tokens_t *t,
    ngx_uint_t kind, const char *prefix, ngx_str_t *name, ngx_str_t *value)
{
    u_char     *p;
    size_t      len;
    ngx_uint_t  i;

    if (t->n == NGX_MAM_FILTER_MAX) {
        return "at most 8 filters";
    }

    len = ngx_strlen(prefix) + (name ? name->len + 1 : 0) + value->len;
    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return ngx_mam_filter_nomem;
    }

    t->token[t->n].data = p;
    t->token[t->n].len = len;
    p = ngx_cpymem(p, prefix, ngx_strlen(prefix));
    if (name) {
        p = ngx_cpymem(p, name->data, name->len);
        *p++ = '=';
    }
    ngx_memcpy(p, value->data, value->len);

    /* a repeated filter adds nothing */
    for (i = 0; i < t->n; i++) {
        if (t->token[i].len == len
            && ngx_memcmp(t->token[i].data, t->token[t->n].data, len) == 0)
        {
            return NULL;
        }
    }

    t->kind[t->n++] = kind;
    return NULL;
}


/* a tag or a field value: trimmed of spaces, 1..200 bytes */
static ngx_int_t
ngx_mam_filter_value(ngx_str_t *v)
{
    while (v->len && v->data[0] == ' ') {
        v->data++;
        v->len--;
    }
    while (v->len && v->data[v->len - 1] == ' ') {
        v->len--;
    }

    return (v->len >= 1 && v->len <= NGX_MAM_FILTER_VALUE_MAX)
           ? NGX_OK : NGX_ERROR;
}


/* field.NAME: NAME as a field definition has it (^[a-z][a-z0-9_]{0,39}$) */
static ngx_int_t
ngx_mam_filter_field(ngx_str_t *name)
{
    size_t  i;

    if (name->len < 1 || name->len > 40
        || name->data[0] < 'a' || name->data[0] > 'z')
    {
        return NGX_ERROR;
    }

    for (i = 1; i < name->len; i++) {
        if (!((name->data[i] >= 'a' && name->data[i] <= 'z')
              || (name->data[i] >= '0' && name->data[i] <= '9')
              || name->data[i] == '_'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* NGX_OK when v is one of the n words */
static ngx_int_t
ngx_mam_filter_one_of(ngx_str_t *v, const ngx_str_t *words, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (v->len == words[i].len
            && ngx_strncmp(v->data, words[i].data, v->len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/* a preview status */
static ngx_int_t
ngx_mam_filter_status(ngx_str_t *v)
{
    static const ngx_str_t  statuses[] = {
        ngx_string("none"), ngx_string("queued"), ngx_string("processing"),
        ngx_string("ready"), ngx_string("failed")
    };

    return ngx_mam_filter_one_of(v, statuses,
                                 sizeof(statuses) / sizeof(statuses[0]));
}


/* a version's review status (issue 21) */
static ngx_int_t
ngx_mam_filter_approval(ngx_str_t *v)
{
    static const ngx_str_t  statuses[] = {
        ngx_string("none"), ngx_string("in_review"),
        ngx_string("changes_requested"), ngx_string("approved")
    };

    return ngx_mam_filter_one_of(v, statuses,
                                 sizeof(statuses) / sizeof(statuses[0]));
}


/* an ISO-8601 time the API takes (mam_time_valid()) as the text to bind:
 * a date as midnight UTC, an offset's '+' that came as a space as '+';
 * NULL when it is none (the audit log's from/to use it too) */
const char *
ngx_mam_time_arg(ngx_http_request_t *r, ngx_str_t *v)
{
    if (!mam_time_valid((char *) v->data, v->len)) {
        return NULL;
    }

    if (v->len == 10) {
        return ngx_mam_message(r->pool, "%VT00:00:00Z", v);
    }

    if (v->data[v->len - 6] == ' ') {
        v->data[v->len - 6] = '+';
    }

    return ngx_mam_cstr(r->pool, v);
}


/* one key=value of the query string, when it is a filter; NULL or the
 * message of the 400 */
static const char *
ngx_mam_filter_pair(ngx_http_request_t *r, ngx_mam_tokens_t *t,
    ngx_mam_filter_t *f, ngx_str_t *key, ngx_str_t *raw)
{
    ngx_str_t    v, name;
    const char  *time;

#define ngx_mam_key_is(s)                                                     \
    (key->len == sizeof(s) - 1 && ngx_strncmp(key->data, s, key->len) == 0)

    if (ngx_mam_key_is("project") || ngx_mam_key_is("folder")
        || ngx_mam_key_is("owner"))
    {
        if (ngx_mam_arg_decode(r, raw, MAM_UUID_LEN, &v) != NGX_OK
            || !mam_uuid_valid((char *) v.data, v.len))
        {
            return key->data[0] == 'p' ? "project: must be a project id"
                 : key->data[0] == 'f' ? "folder: must be a folder id"
                 : "owner: must be a user id";
        }

        return ngx_mam_filter_token(r, t,
                   key->data[0] == 'p' ? NGX_MAM_FACET_PROJECT
                   : key->data[0] == 'f' ? NGX_MAM_FACET_FOLDER
                   : NGX_MAM_FACET_OWNER,
                   key->data[0] == 'p' ? "p:" : key->data[0] == 'f' ? "d:"
                                                                    : "o:",
                   NULL, &v);
    }

    if (ngx_mam_key_is("status")) {
        if (ngx_mam_arg_decode(r, raw, 16, &v) != NGX_OK
            || ngx_mam_filter_status(&v) != NGX_OK)
        {
            return "status: must be none, queued, processing, ready or failed";
        }
        return ngx_mam_filter_token(r, t, NGX_MAM_FACET_STATUS, "s:", NULL,
                                    &v);
    }

    if (ngx_mam_key_is("approval")) {
        if (ngx_mam_arg_decode(r, raw, 24, &v) != NGX_OK
            || ngx_mam_filter_approval(&v) != NGX_OK)
        {
            return "approval: must be none, in_review, changes_requested or "
                   "approved";
        }
        return ngx_mam_filter_token(r, t, NGX_MAM_FACET_APPROVAL, "a:", NULL,
                                    &v);
    }

    if (ngx_mam_key_is("tag")) {
        if (ngx_mam_arg_decode(r, raw, NGX_MAM_FILTER_VALUE_MAX, &v) != NGX_OK
            || ngx_mam_filter_value(&v) != NGX_OK)
        {
            return "tag: must be 1..200 bytes of text";
        }
        return ngx_mam_filter_token(r, t, NGX_MAM_FACET_TAG, "t:", NULL, &v);
    }

    if (key->len >= 6 && ngx_strncmp(key->data, "field.", 6) == 0) {
        name.data = key->data + 6;
        name.len = key->len - 6;
        if (ngx_mam_filter_field(&name) != NGX_OK) {
            return "field.NAME: NAME must be a field's name";
        }
        if (ngx_mam_arg_decode(r, raw, NGX_MAM_FILTER_VALUE_MAX, &v) != NGX_OK
            || ngx_mam_filter_value(&v) != NGX_OK)
        {
            return "field.NAME: the value must be 1..200 bytes of text";
        }
        return ngx_mam_filter_token(r, t, NGX_MAM_FACET_FIELD, "f:", &name,
                                    &v);
    }

    if (ngx_mam_key_is("created_from") || ngx_mam_key_is("created_to")) {
        if (ngx_mam_arg_decode(r, raw, 40, &v) != NGX_OK
            || (time = ngx_mam_time_arg(r, &v)) == NULL)
        {
            return ngx_mam_message(r->pool,
                                   "%V: must be an ISO-8601 time, YYYY-MM-DD "
                                   "or YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z "
                                   "or +HH:MM", key);
        }
        if (key->len == 12) {
            f->from = time;
        } else {
            f->to = time;
        }
    }

#undef ngx_mam_key_is

    return NULL;
}


/* the tokens but the one at skip (none when skip is t->n), newline-
 * separated and NUL-ended at p, as out; the end */
static u_char *
ngx_mam_filter_list(ngx_mam_tokens_t *t, ngx_uint_t skip, u_char *p,
    ngx_str_t *out)
{
    ngx_uint_t  i;

    out->data = p;
    for (i = 0; i < t->n; i++) {
        if (i == skip) {
            continue;
        }
        if (p != out->data) {
            *p++ = '\n';
        }
        p = ngx_cpymem(p, t->token[i].data, t->token[i].len);
    }
    out->len = p - out->data;
    *p++ = '\0';

    return p;
}


/* the driving token (the first of the narrowest kind), every token and
 * the others joined by newlines, which no decoded argument holds (a page
 * reads the driver's rows, so tests only the others on each; a search
 * tests every one).  A project drives as its id: its page reads the
 * project's own index of assets; a folder's, a tag's or a field value's
 * rows carry the items (ngx_mam_sql.h) */
static ngx_int_t
ngx_mam_filter_join(ngx_http_request_t *r, ngx_mam_tokens_t *t,
    ngx_mam_filter_t *f)
{
    u_char      *p;
    size_t       len, skip;
    ngx_uint_t   i, kind, drive;

    len = 0;
    drive = 0;
    kind = NGX_MAM_FACET_KINDS;

    for (i = 0; i < t->n; i++) {
        len += t->token[i].len + 1;
        if (t->kind[i] < kind) {
            kind = t->kind[i];
            drive = i;
        }
    }

    /* a time range alone reads the rows of every live asset */
    if (t->n == 0) {
        ngx_str_set(&f->driver, "*");
        ngx_str_set(&f->tokens, "");
        ngx_str_set(&f->others, "");
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 2 * len + t->token[drive].len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_mam_filter_list(t, t->n, p, &f->tokens);
    p = ngx_mam_filter_list(t, drive, p, &f->others);

    skip = (kind == NGX_MAM_FACET_PROJECT) ? sizeof("p:") - 1 : 0;
    f->project = (kind == NGX_MAM_FACET_PROJECT);
    f->items = (kind == NGX_MAM_FACET_FOLDER || kind == NGX_MAM_FACET_FIELD
                || kind == NGX_MAM_FACET_TAG);

    /* the SPA's filter inside a project: a page of rows that carry the
     * items, with the project as the only other token, tests the rows'
     * project_id and the membership once, not the facets and the
     * memberships on each row (ngx_mam_sql.h: IN_PROJECT) */
    f->in_project = f->items && t->n == 2
                    && t->kind[1 - drive] == NGX_MAM_FACET_PROJECT;
    f->driver.data = p;
    f->driver.len = t->token[drive].len - skip;
    p = ngx_cpymem(p, t->token[drive].data + skip, f->driver.len);
    *p = '\0';

    return NGX_OK;
}


const char *
ngx_mam_filter_args(ngx_http_request_t *r, ngx_mam_filter_t *f)
{
    u_char            *p, *end, *amp, *eq;
    ngx_str_t          key, raw;
    const char        *message;
    ngx_mam_tokens_t   t;

    ngx_memzero(f, sizeof(ngx_mam_filter_t));
    t.n = 0;

    p = r->args.data;
    end = r->args.data + r->args.len;

    while (p < end) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        eq = ngx_strlchr(p, amp, '=');
        key.data = p;
        key.len = (eq ? eq : amp) - p;
        raw.data = eq ? eq + 1 : amp;
        raw.len = amp - raw.data;

        message = ngx_mam_filter_pair(r, &t, f, &key, &raw);
        if (message != NULL) {
            return message;
        }

        p = amp + 1;
    }

    if (t.n == 0 && f->from == NULL && f->to == NULL) {
        return NULL;
    }

    f->on = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: list filter of %ui tokens, from \"%s\" to \"%s\"",
                   t.n, f->from ? f->from : "", f->to ? f->to : "");

    return ngx_mam_filter_join(r, &t, f) == NGX_OK ? NULL
                                                   : ngx_mam_filter_nomem;
}

/*
 * Rows of the read statements (ngx_mam_sql.h) as the API's JSON.  This is
 * the work PostgreSQL used to do with jsonb_build_object() and to_char()
 * per row; here it costs the worker, which scales out, instead of the one
 * database.  Each reader takes the columns of its *_COLS list in order.
 */

#include "ngx_mam_module.h"
#include "ngx_mam_pg.h"


/* a text column; NULL for SQL NULL */
static const char *
ngx_mam_row_text(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}


static json_t *
ngx_mam_row_string(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    return json_stringn(PQgetvalue(res, row, col),
                        PQgetlength(res, row, col));
}


static json_t *
ngx_mam_row_integer(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}


static json_t *
ngx_mam_row_real(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    return json_real(strtod(PQgetvalue(res, row, col), NULL));
}


/* a jsonb column: PostgreSQL's text of it is JSON */
static json_t *
ngx_mam_row_jsonb(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    return json_loadb(PQgetvalue(res, row, col), PQgetlength(res, row, col),
                      JSON_DECODE_ANY, NULL);
}


/*
 * "YYYY-MM-DD HH:MM:SS[.f...]" (a timestamp at UTC in DateStyle ISO, as
 * `timestamptz AT TIME ZONE 'UTC'` prints it) as "YYYY-MM-DDTHH:MM:SS."
 * followed by digits fraction digits (truncated, zero-padded) and "Z".
 * out holds NGX_MAM_ROW_TIME_LEN.  Returns the length, 0 for another form.
 */
size_t
ngx_mam_row_time(u_char *out, const char *t, size_t len, ngx_uint_t digits)
{
    size_t      n;
    ngx_uint_t  i;

    if (len < 19 || t[4] != '-' || t[10] != ' ' || t[13] != ':'
        || (len > 19 && (t[19] != '.' || len > 26)))
    {
        return 0;
    }

    ngx_memcpy(out, t, 19);
    out[10] = 'T';
    out[19] = '.';
    n = 20;

    for (i = 0; i < digits; i++) {
        out[n++] = (20 + i < len) ? (u_char) t[20 + i] : '0';
    }

    out[n++] = 'Z';

    return n;
}


/* the API's time (milliseconds) of a timestamp column, or null */
static json_t *
ngx_mam_row_api_time(PGresult *res, int row, int col)
{
    size_t  n;
    u_char  buf[NGX_MAM_ROW_TIME_LEN];

    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    n = ngx_mam_row_time(buf, PQgetvalue(res, row, col),
                         PQgetlength(res, row, col), 3);

    return n ? json_stringn((char *) buf, n) : NULL;
}


/* {id, display_name} of a user's two columns, or null */
static json_t *
ngx_mam_row_person(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    return json_pack("{s:o, s:o}",
                     "id", ngx_mam_row_string(res, row, col),
                     "display_name", ngx_mam_row_string(res, row, col + 1));
}


/* a version and its preview (NGX_MAM_SQL_VERSION_COLS from col), or null */
json_t *
ngx_mam_row_version(PGresult *res, int row, int col)
{
    json_t  *preview;

    if (PQgetisnull(res, row, col)) {
        return json_null();
    }

    /* the preview of a version without a job: none, as of the version */
    if (PQgetisnull(res, row, col + 7)) {
        preview = json_pack("{s:o, s:n, s:s, s:i, s:n, s:[], s:o}",
                            "version_id", ngx_mam_row_string(res, row, col),
                            "job_id", "status", "none", "progress", 0,
                            "error", "renditions",
                            "updated_at",
                            ngx_mam_row_api_time(res, row, col + 6));
    } else {
        preview = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                            "version_id", ngx_mam_row_string(res, row, col),
                            "job_id", ngx_mam_row_string(res, row, col + 7),
                            "status", ngx_mam_row_string(res, row, col + 8),
                            "progress", ngx_mam_row_real(res, row, col + 9),
                            "error", ngx_mam_row_string(res, row, col + 10),
                            "renditions",
                            ngx_mam_row_jsonb(res, row, col + 11),
                            "updated_at",
                            ngx_mam_row_api_time(res, row, col + 12));
    }

    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", ngx_mam_row_string(res, row, col),
                     "asset_id", ngx_mam_row_string(res, row, col + 1),
                     "number", ngx_mam_row_integer(res, row, col + 2),
                     "master_key", ngx_mam_row_string(res, row, col + 3),
                     "size", ngx_mam_row_integer(res, row, col + 4),
                     "metadata", ngx_mam_row_jsonb(res, row, col + 5),
                     "preview", preview,
                     "created_at", ngx_mam_row_api_time(res, row, col + 6));
}


/* an asset (NGX_MAM_SQL_ASSET_COLS from col) with the latest version that
 * follows its columns */
json_t *
ngx_mam_row_asset(PGresult *res, int row, int col)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", ngx_mam_row_string(res, row, col),
                     "title", ngx_mam_row_string(res, row, col + 1),
                     "description", ngx_mam_row_string(res, row, col + 2),
                     "owner", ngx_mam_row_person(res, row, col + 5),
                     "created_at", ngx_mam_row_api_time(res, row, col + 3),
                     "updated_at", ngx_mam_row_api_time(res, row, col + 4),
                     "latest_version",
                     ngx_mam_row_version(res, row,
                                         col + NGX_MAM_SQL_ASSET_NCOLS));
}


/* a comment (NGX_MAM_SQL_COMMENT_COLS from col) */
json_t *
ngx_mam_row_comment(PGresult *res, int row, int col)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", ngx_mam_row_string(res, row, col),
                     "asset_id", ngx_mam_row_string(res, row, col + 1),
                     "version_id", ngx_mam_row_string(res, row, col + 2),
                     "user", ngx_mam_row_person(res, row, col + 3),
                     "timestamp_sec", ngx_mam_row_real(res, row, col + 5),
                     "content", ngx_mam_row_string(res, row, col + 6),
                     "created_at", ngx_mam_row_api_time(res, row, col + 7));
}


/* a user (NGX_MAM_SQL_USER_GET's columns); roles come as a text array of
 * plain names, "{admin,editor}" */
json_t *
ngx_mam_row_user(PGresult *res, int row)
{
    json_t      *roles;
    const char  *p, *end, *comma;

    roles = json_array();
    p = ngx_mam_row_text(res, row, 5);

    if (roles == NULL || p == NULL || *p != '{') {
        json_decref(roles);
        return NULL;
    }

    end = p + PQgetlength(res, row, 5) - 1;

    for (p++; p < end; p = comma + 1) {
        comma = (const char *) ngx_strlchr((u_char *) p, (u_char *) end, ',');
        if (comma == NULL) {
            comma = end;
        }
        json_array_append_new(roles, json_stringn(p, comma - p));
    }

    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", ngx_mam_row_string(res, row, 0),
                     "email", ngx_mam_row_string(res, row, 1),
                     "display_name", ngx_mam_row_string(res, row, 2),
                     "status", ngx_mam_row_string(res, row, 3),
                     "roles", roles,
                     "created_at", ngx_mam_row_api_time(res, row, 4));
}

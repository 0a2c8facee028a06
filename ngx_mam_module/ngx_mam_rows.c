/*
 * Rows of the read statements (ngx_mam_sql.h) in the API's answers.  Each
 * row brings its API object as JSON text, its item, which PostgreSQL wrote
 * (jsonb's output) when the row last changed: an answer is those texts
 * copied between a few fixed pieces, with no JSON parsed or built per
 * read.  Only values the worker makes itself (a cursor) go through
 * jansson.
 */

#include "ngx_mam_module.h"
#include "ngx_mam_pg.h"


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


/*
 * "SECONDS.uuuuuu" (a time in seconds since 1970 at UTC, as extract(epoch)
 * of a timestamp prints it: the assets' page_key, schema 032) as
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ".  out holds NGX_MAM_ROW_TIME_LEN.  Returns
 * the length, 0 for another form (a time before 1970 among them).
 */
size_t
ngx_mam_epoch_time(u_char *out, const u_char *t, size_t len)
{
    u_char     *p;
    time_t      sec;
    ngx_tm_t    tm;
    ngx_uint_t  i;

    if (len < 8 || len > 18 || t[len - 7] != '.') {
        return 0;
    }

    for (i = len - 6; i < len; i++) {
        if (t[i] < '0' || t[i] > '9') {
            return 0;
        }
    }

    sec = ngx_atotm((u_char *) t, len - 7);
    if (sec == NGX_ERROR) {
        return 0;
    }

    ngx_gmtime(sec, &tm);

    p = ngx_sprintf(out, "%4d-%02d-%02dT%02d:%02d:%02d.", tm.ngx_tm_year,
                    tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                    tm.ngx_tm_min, tm.ngx_tm_sec);
    p = ngx_cpymem(p, t + len - 6, 6);
    *p++ = 'Z';

    return (p - out == NGX_MAM_ROW_TIME_LEN - 1) ? (size_t) (p - out) : 0;
}


/* the items of rows from .. to - 1 in column col, comma separated; an item
 * that is NULL or empty (a row the triggers never wrote) fails the answer */
void
ngx_mam_answer_add_items(ngx_mam_answer_t *a, PGresult *res, int col,
    int from, int to)
{
    int  i;

    for (i = from; i < to; i++) {
        if (PQgetisnull(res, i, col) || PQgetlength(res, i, col) == 0) {
            ngx_log_error(NGX_LOG_ALERT, a->pool->log, 0,
                          "mam: row %d of a read has no item", i);
            a->failed = 1;
            return;
        }

        if (i > from) {
            ngx_mam_answer_text(a, ",");
        }

        ngx_mam_answer_add(a, PQgetvalue(res, i, col),
                           PQgetlength(res, i, col));
    }
}

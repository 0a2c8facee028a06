/*
 * The read statements of the API: static SQL, one text per sort order and
 * filter, prepared once per connection (ngx_mam_pg.c).  They return rows,
 * not JSON: the worker turns rows into the API's JSON (ngx_mam_rows.c),
 * because the worker tier scales out and PostgreSQL does not.  Timestamps
 * come as `timestamp AT TIME ZONE 'UTC'` text (DateStyle ISO, microseconds)
 * and are formatted in C.
 *
 * Each *_COLS list is read by the row function named beside it, in order.
 * The benchmarks (bench/) run these same texts.
 */

#ifndef _NGX_MAM_SQL_H_INCLUDED_
#define _NGX_MAM_SQL_H_INCLUDED_


/* ngx_mam_row_asset(): 7 columns */
#define NGX_MAM_SQL_ASSET_COLS                                                \
    "a.id, a.title, a.description, a.created_at AT TIME ZONE 'UTC', "        \
    "a.updated_at AT TIME ZONE 'UTC', u.id, u.display_name"

/* ngx_mam_row_version(): 13 columns, all NULL without a version */
#define NGX_MAM_SQL_VERSION_COLS                                              \
    "v.id, v.asset_id, v.number, v.master_key, v.size, v.metadata, "         \
    "v.created_at AT TIME ZONE 'UTC', j.id, j.status, j.progress, j.error, " \
    "j.renditions, j.updated_at AT TIME ZONE 'UTC'"

#define NGX_MAM_SQL_ASSET_NCOLS    7
#define NGX_MAM_SQL_VERSION_NCOLS  13

/* an asset's owner, latest version and that version's current job */
#define NGX_MAM_SQL_ASSET_JOINS                                               \
    " LEFT JOIN users u ON u.id = a.user_id"                                  \
    " LEFT JOIN LATERAL (SELECT * FROM versions v WHERE v.asset_id = a.id"   \
    " ORDER BY v.number DESC LIMIT 1) v ON true"                              \
    " LEFT JOIN preview_jobs j ON j.id = v.preview_job_id"


/*
 * GET /api/assets: a keyset page of limit + 1 live assets.  Column 0 is
 * the number of words of q (0 without q); an asset's columns follow, then
 * its latest version's.  With q the page is one row of NULLs when q has no
 * match, and is not searched at all beyond 8 words (the words are counted
 * as mam_tsquery() splits them, so the cap bounds its prefix scans).
 *
 * Parameters: [q] limit [after_value after_id], q first when present.
 */
#define NGX_MAM_SQL_ASSET_PAGE(after, order)                                  \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS ", " NGX_MAM_SQL_VERSION_COLS        \
    " FROM (SELECT * FROM assets a WHERE a.deleted_at IS NULL" after         \
    " ORDER BY " order " LIMIT $1) a" NGX_MAM_SQL_ASSET_JOINS                 \
    " ORDER BY " order

#define NGX_MAM_SQL_ASSET_SEARCH(after, order)                                \
    "SELECT w.n, " NGX_MAM_SQL_ASSET_COLS ", " NGX_MAM_SQL_VERSION_COLS      \
    " FROM (SELECT mam_query_words($1) AS n) w"                               \
    " LEFT JOIN LATERAL (SELECT * FROM assets a WHERE w.n BETWEEN 1 AND 8"   \
    " AND a.deleted_at IS NULL AND a.search @@ mam_tsquery($1)" after        \
    " ORDER BY " order " LIMIT $2) a ON true" NGX_MAM_SQL_ASSET_JOINS         \
    " ORDER BY " order

#define NGX_MAM_SQL_ORDER_NEW      "a.created_at DESC, a.id DESC"
#define NGX_MAM_SQL_ORDER_OLD      "a.created_at, a.id"
#define NGX_MAM_SQL_ORDER_TITLE    "a.title, a.id"

#define NGX_MAM_SQL_AFTER_NEW(v, id)                                          \
    " AND (a.created_at, a.id) < (" v "::timestamptz, " id "::uuid)"
#define NGX_MAM_SQL_AFTER_OLD(v, id)                                          \
    " AND (a.created_at, a.id) > (" v "::timestamptz, " id "::uuid)"
#define NGX_MAM_SQL_AFTER_TITLE(v, id)                                        \
    " AND (a.title, a.id) > (" v "::text, " id "::uuid)"

/* -created_at, first page: the API's default list (bench/api-list.pl) */
#define NGX_MAM_SQL_ASSET_LIST                                                \
    NGX_MAM_SQL_ASSET_PAGE("", NGX_MAM_SQL_ORDER_NEW)


/* GET /api/assets/:id: one row per version, newest first (one row of NULL
 * version columns without a version); no row: no such live asset */
#define NGX_MAM_SQL_ASSET_GET                                                 \
    "SELECT " NGX_MAM_SQL_ASSET_COLS ", " NGX_MAM_SQL_VERSION_COLS           \
    " FROM assets a LEFT JOIN users u ON u.id = a.user_id"                    \
    " LEFT JOIN versions v ON v.asset_id = a.id"                              \
    " LEFT JOIN preview_jobs j ON j.id = v.preview_job_id"                    \
    " WHERE a.id = $1 AND a.deleted_at IS NULL"                               \
    " ORDER BY v.number DESC"


/* ngx_mam_row_comment(): 8 columns, all NULL when the asset has none */
#define NGX_MAM_SQL_COMMENT_COLS                                              \
    "c.id, c.asset_id, c.version_id, u.id, u.display_name, c.timestamp_sec, " \
    "c.content, c.created_at AT TIME ZONE 'UTC'"

/*
 * GET /api/assets/:id/comments: a keyset page of limit + 1 comments by
 * time code.  No row: no such live asset; one row of NULLs: no comment.
 * Parameters: asset, limit, after timestamp_sec, after created_at, after id
 * (the first page starts before every comment).
 */
#define NGX_MAM_SQL_COMMENT_PAGE                                              \
    "SELECT " NGX_MAM_SQL_COMMENT_COLS                                        \
    " FROM (SELECT id FROM assets WHERE id = $1 AND deleted_at IS NULL) a"    \
    " LEFT JOIN LATERAL (SELECT * FROM comments c WHERE c.asset_id = a.id"   \
    " AND (c.timestamp_sec, c.created_at, c.id)"                              \
    " > ($3::numeric, $4::timestamptz, $5::uuid)"                             \
    " ORDER BY c.timestamp_sec, c.created_at, c.id LIMIT $2) c ON true"       \
    " LEFT JOIN users u ON u.id = c.user_id"                                  \
    " ORDER BY c.timestamp_sec, c.created_at, c.id"


/* GET /auth/me: ngx_mam_row_user(), 6 columns; roles sorted by name */
#define NGX_MAM_SQL_USER_GET                                                  \
    "SELECT u.id, u.email, u.display_name, u.status,"                         \
    " u.created_at AT TIME ZONE 'UTC',"                                       \
    " array(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id" \
    " WHERE ur.user_id = u.id ORDER BY r.name)"                               \
    " FROM users u WHERE u.id = $1"


#endif /* _NGX_MAM_SQL_H_INCLUDED_ */

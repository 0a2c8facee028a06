/*
 * The read statements of the API: static SQL, one text per sort order and
 * filter, prepared once per connection (ngx_mam_pg.c).  Each row they
 * return carries its API object as JSON text, its `item`, written when the
 * row changed (schema/014_items.sql, schema/functions/items.sql), so a
 * read builds no JSON at all: PostgreSQL copies text and the worker
 * joins the items into the answer (ngx_mam_rows.c).  What a cursor needs
 * comes beside the item; times as `timestamp AT TIME ZONE 'UTC'` text
 * (DateStyle ISO, microseconds), or stored as text (the assets' page_key).
 *
 * The benchmarks (bench/) run these same texts.
 */

#ifndef _NGX_MAM_SQL_H_INCLUDED_
#define _NGX_MAM_SQL_H_INCLUDED_


/*
 * An asset's columns in a page: its item (the API's asset object with its
 * latest version, schema/functions/items.sql), then what its cursor is
 * made of: page_key, the id and the exact creation time as the cursor
 * holds them (schema 032: stored, because making that text for each row
 * was a tenth of a page's cost), and the title.
 */
#define NGX_MAM_SQL_ASSET_COLS     "a.item, a.page_key, a.title"

#define NGX_MAM_SQL_ASSET_NCOLS    3


/*
 * GET /api/assets: a keyset page of limit + 1 live assets.  Column 0 is
 * the number of words of q (0 without q); an asset's columns follow.
 * With q the page is one row of NULLs when q has no match, and is not
 * searched at all beyond 8 words (the words are counted as mam_tsquery()
 * splits them, so the cap bounds its prefix scans).
 *
 * An admin's page is of every asset (ASSET_PAGE, ASSET_SEARCH); anyone
 * else's of the assets of their projects (MEMBER_PAGE, MEMBER_SEARCH).
 * The module runs generic plans, so one text must serve a member of the
 * projects that hold most assets and a member of one small project; a
 * member's page is therefore one of two statements:
 *  - MEMBER_PAGE, the scan: the first NGX_MAM_SQL_MEMBER_SCAN rows of the
 *    live index (assets_live_*_idx, in the page's order), each tested
 *    against the caller's projects, cut at the page.  A member of the
 *    projects that hold most assets fills the page within its first rows
 *    (the common case, bench/api-list.pl).
 *  - MEMBER_MERGE, only when the scan answered less than a full page: each
 *    of the caller's projects' own page (assets_project_created_idx or
 *    _title_idx, schema 016), merged and cut.  It reads at most projects x
 *    limit rows however many assets the instance holds, so a member of a
 *    project of 30 assets among 100,000 no longer reads the whole index
 *    for a page.  It is a second statement, not a branch of the first:
 *    both in one text (a CTE of the scan, the merge under a one-time
 *    filter on its count) took the common page from 17 to 71 us of
 *    executor time.
 * The scan reads a prefix of the order, so a full page from it is the
 * page; a short one may have been cut by the cap, and the merge is
 * complete.  A non-member's assets are never answered by either.
 *
 * Parameters: [q] limit [after_value after_id], q first when present;
 * the member statements take the user after them.
 */
#define NGX_MAM_SQL_ASSET_PAGE(after, order)                                  \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS                                       \
    " FROM assets a WHERE a.deleted_at IS NULL" after                         \
    " ORDER BY " order " LIMIT $1"

#define NGX_MAM_SQL_ASSET_SEARCH(after, order)                                \
    "SELECT w.n, " NGX_MAM_SQL_ASSET_COLS                                     \
    " FROM (SELECT mam_query_words($1) AS n) w"                               \
    " LEFT JOIN LATERAL (SELECT * FROM assets a WHERE w.n BETWEEN 1 AND 8"   \
    " AND a.deleted_at IS NULL AND a.search @@ mam_tsquery($1)" after        \
    " ORDER BY " order " LIMIT $2) a ON true"                                 \
    " ORDER BY " order

/* how many rows of the live index a member's page scans before the
 * module asks for the merge of its projects' pages instead */
#define NGX_MAM_SQL_MEMBER_SCAN    "256"

#define NGX_MAM_SQL_MEMBER_PAGE(after, order, user)                           \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS                                       \
    " FROM (SELECT a.item, a.page_key, a.id, a.title, a.created_at,"          \
    " a.project_id"                                                           \
    " FROM assets a WHERE a.deleted_at IS NULL" after                         \
    " ORDER BY " order " LIMIT " NGX_MAM_SQL_MEMBER_SCAN ") a"                \
    " WHERE a.project_id IN (SELECT m.project_id FROM project_members m"     \
    " WHERE m.user_id = " user "::uuid)"                                      \
    " ORDER BY " order " LIMIT $1"

/* each project's page is PROJECT_PAGE's (below) with the membership's
 * project for $1: a range of one value that leads the order, so that only
 * the project's index gives it, and the cursor a row comparison that
 * begins with the project (AFTER_IN m.project_id); porder is the order
 * with the project first.  Parameters as MEMBER_PAGE's. */
#define NGX_MAM_SQL_MEMBER_MERGE(after, porder, order, user)                  \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS                                       \
    " FROM project_members m CROSS JOIN LATERAL (SELECT a.item, a.page_key,"  \
    " a.id,"                                                                  \
    " a.title, a.created_at, a.project_id FROM assets a"                      \
    " WHERE a.project_id >= m.project_id AND a.project_id <= m.project_id"    \
    " AND a.deleted_at IS NULL" after                                         \
    " ORDER BY " porder " LIMIT $1) a"                                        \
    " WHERE m.user_id = " user "::uuid"                                       \
    " ORDER BY " order " LIMIT $1"

/* a search reads the matches of q in the caller's projects (the search
 * index, then the membership: a search is bounded by its words, not by
 * the page) */
#define NGX_MAM_SQL_MEMBER_SEARCH(after, order, user)                         \
    "SELECT w.n, " NGX_MAM_SQL_ASSET_COLS                                     \
    " FROM (SELECT mam_query_words($1) AS n) w"                               \
    " LEFT JOIN LATERAL (SELECT * FROM assets a WHERE w.n BETWEEN 1 AND 8"   \
    " AND a.deleted_at IS NULL AND a.search @@ mam_tsquery($1)" after        \
    " AND a.project_id IN (SELECT m.project_id FROM project_members m"       \
    " WHERE m.user_id = " user "::uuid)"                                      \
    " ORDER BY " order " LIMIT $2) a ON true"                                 \
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

/*
 * GET /api/assets with filters (project, folder, tag, field.NAME, status,
 * owner, created_from/created_to): the same pages over asset_facets (schema
 * 020), one row per live asset and token with the sort keys beside it.
 * Without q a page reads the rows of one token, the driving one (ngx_mam_
 * filters.c picks the narrowest kind the request has, or "*" for a time
 * range alone), in the sort's order from asset_facets_created_idx or
 * _title_idx, and checks the asset's facets for the others: a page costs
 * its rows however many assets the token has.  That plan is the generic
 * plan because migration 020 tells the planner that a token is common
 * (n_distinct): with a rare one it reads the few rows the index has for
 * it, in order, which is as cheap.  The time range has statements of its
 * own, since PostgreSQL takes a range of parameters for a narrow one and
 * would sort.  With q the search reads the matches and checks the facets
 * and the range.  Each row's asset is read by its key (the LATERAL's
 * OFFSET 0 keeps the facets' test out of it: PostgreSQL takes "facets @>"
 * for rare and would rather read every asset once than look up each row's).
 * Tokens are compared lower-cased (filters ignore case).
 * A member's page is of the rows of their projects, as the lists above.
 *
 * Parameters: $1 the driving token (PAGE; a project's id for PROJECT_PAGE)
 * or q (SEARCH), $2 limit, $3 the tokens besides the driver (PAGE) or
 * every token (SEARCH), newline-separated, then [after_value after_id], then
 * [created_from created_to] (every search has them), then the user for a
 * member's.
 */
#define NGX_MAM_SQL_FACET_PAGE(after, range, order, scope)                    \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS                                       \
    " FROM asset_facets f CROSS JOIN LATERAL (SELECT x.item, x.page_key,"     \
    " x.id, x.title,"                                                         \
    " x.created_at, x.facets, x.deleted_at FROM assets x"                     \
    " WHERE x.id = f.asset_id OFFSET 0) a"                                    \
    " WHERE f.token = lower($1) AND a.deleted_at IS NULL"                     \
    " AND a.facets @> string_to_array(lower($3), E'\\n')"                    \
    after range scope " ORDER BY " order " LIMIT $2"

/*
 * A page whose driver is a project ($1 its id): the project's live assets
 * in the sort's order from assets_project_created_idx or _title_idx
 * (schema 016), as the unfiltered list reads assets_live_*_idx: no row of
 * asset_facets, no second index descent per row (bench/api-filter.pl).
 * The project is a range of one value, not "= $1", and leads the order:
 * an equality would make the project's place in the order redundant, and
 * a generic plan that thinks a project common would then read the whole
 * instance's index in order and test each asset's project, which a small
 * project pays in full.  As written, only the project's index gives the
 * order.  The cursor and the time range are row comparisons that begin
 * with the project, so they place the index scan rather than filter it.
 */
#define NGX_MAM_SQL_PROJECT_PAGE(others, test, after, range, order, scope)   \
    "SELECT 0, " NGX_MAM_SQL_ASSET_COLS                                       \
    " FROM assets a" others                                                   \
    " WHERE a.project_id >= $1::uuid AND a.project_id <= $1::uuid"            \
    " AND a.deleted_at IS NULL" test                                          \
    after range scope " ORDER BY " order " LIMIT $2"

#define NGX_MAM_SQL_ORDER_P_NEW    "a.project_id DESC, " NGX_MAM_SQL_ORDER_NEW
#define NGX_MAM_SQL_ORDER_P_OLD    "a.project_id, " NGX_MAM_SQL_ORDER_OLD
#define NGX_MAM_SQL_ORDER_P_TITLE  "a.project_id, " NGX_MAM_SQL_ORDER_TITLE

/* the cursor of a page of one project (p): a row comparison that begins
 * with the project places the scan of the project's index */
#define NGX_MAM_SQL_AFTER_IN(p, key, cmp, v, id)                              \
    " AND (a.project_id, a." key ", a.id) " cmp " (" p ", " v ", " id "::uuid)"
#define NGX_MAM_SQL_AFTER_P_NEW(v, id)                                        \
    NGX_MAM_SQL_AFTER_IN("$1::uuid", "created_at", "<", v "::timestamptz", id)
#define NGX_MAM_SQL_AFTER_P_OLD(v, id)                                        \
    NGX_MAM_SQL_AFTER_IN("$1::uuid", "created_at", ">", v "::timestamptz", id)
#define NGX_MAM_SQL_AFTER_P_TITLE(v, id)                                      \
    NGX_MAM_SQL_AFTER_IN("$1::uuid", "title", ">", v "::text", id)

#define NGX_MAM_SQL_RANGE_P(from, to)                                         \
    " AND (a.project_id, a.created_at) >= ($1::uuid, " from "::timestamptz)"  \
    " AND (a.project_id, a.created_at) < ($1::uuid, " to "::timestamptz)"

/* a page whose driver is a folder, a tag or a field value: its rows of
 * asset_facets carry the asset's item and facets (schema 024), so the
 * page reads the index and the rows, no asset (bench/api-filter.pl) */
#define NGX_MAM_SQL_ITEM_PAGE(others, test, after, order, scope)              \
    "SELECT 0, f.item, f.page_key, f.title FROM asset_facets f" others        \
    " WHERE f.token = lower($1)" test                                         \
    after scope " ORDER BY " order " LIMIT $2"

/*
 * The tokens besides the driver ($3), tested on each row of t: OTHERS in
 * the FROM, OTHERS_OK in the WHERE.  The test is a LATERAL of its own so
 * that the generic plan does not count it: a filter in the WHERE divides
 * the rows PostgreSQL expects by 200, and with few expected it would
 * fetch every row of the driver and sort them rather than read the index
 * in order and stop at the page (t/42 checks the plans).  The common page
 * of one filter has no other token and tests nothing on its rows:
 * NO_OTHERS, a test of the parameter alone, which PostgreSQL makes once
 * per query and does not count.
 */
#define NGX_MAM_SQL_OTHERS(t)                                                 \
    " CROSS JOIN LATERAL (SELECT " t ".facets"                                \
    " @> string_to_array(lower($3), E'\\n') AS ok OFFSET 0) o"
#define NGX_MAM_SQL_OTHERS_OK      " AND o.ok"

/* the only other token is the project ($3, its id): the row's project_id
 * compared, in a LATERAL for the same reason as OTHERS, and a member's
 * scope is the membership of that project, tested once (an uncorrelated
 * EXISTS) rather than the caller's projects joined to each row */
#define NGX_MAM_SQL_IN_PROJECT(t)                                             \
    " CROSS JOIN LATERAL (SELECT " t ".project_id = $3::uuid AS ok"          \
    " OFFSET 0) o"
#define NGX_MAM_SQL_IN_PROJECT_SCOPE(user)                                    \
    " AND EXISTS (SELECT 1 FROM project_members m"                            \
    " WHERE m.project_id = $3::uuid AND m.user_id = " user "::uuid)"
#define NGX_MAM_SQL_NO_OTHERS      " AND $3::text = ''"

#define NGX_MAM_SQL_FACET_SEARCH(after, range, order, scope)                  \
    "SELECT w.n, " NGX_MAM_SQL_ASSET_COLS                                     \
    " FROM (SELECT mam_query_words($1) AS n) w"                               \
    " LEFT JOIN LATERAL (SELECT * FROM assets a WHERE w.n BETWEEN 1 AND 8"   \
    " AND a.deleted_at IS NULL AND a.search @@ mam_tsquery($1)"              \
    " AND a.facets @> string_to_array(lower($3), E'\\n')"                    \
    after range scope " ORDER BY " order " LIMIT $2) a ON true"               \
    " ORDER BY " order

#define NGX_MAM_SQL_RANGE(t, from, to)                                        \
    " AND " t ".created_at >= " from "::timestamptz"                          \
    " AND " t ".created_at < " to "::timestamptz"

#define NGX_MAM_SQL_FACET_SCOPE(user)                                         \
    " AND f.project_id IN (SELECT m.project_id FROM project_members m"       \
    " WHERE m.user_id = " user "::uuid)"
/* a member's page of one project: the membership tested once, not on each
 * row (PostgreSQL makes an uncorrelated EXISTS a one-time filter) */
#define NGX_MAM_SQL_PROJECT_SCOPE(user)                                       \
    " AND EXISTS (SELECT 1 FROM project_members m"                            \
    " WHERE m.project_id = $1::uuid AND m.user_id = " user "::uuid)"
#define NGX_MAM_SQL_SEARCH_SCOPE(user)                                        \
    " AND a.project_id IN (SELECT m.project_id FROM project_members m"       \
    " WHERE m.user_id = " user "::uuid)"

#define NGX_MAM_SQL_ORDER_F_NEW    "f.created_at DESC, f.asset_id DESC"
#define NGX_MAM_SQL_ORDER_F_OLD    "f.created_at, f.asset_id"
#define NGX_MAM_SQL_ORDER_F_TITLE  "f.title, f.asset_id"

#define NGX_MAM_SQL_AFTER_F_NEW(v, id)                                        \
    " AND (f.created_at, f.asset_id) < (" v "::timestamptz, " id "::uuid)"
#define NGX_MAM_SQL_AFTER_F_OLD(v, id)                                        \
    " AND (f.created_at, f.asset_id) > (" v "::timestamptz, " id "::uuid)"
#define NGX_MAM_SQL_AFTER_F_TITLE(v, id)                                      \
    " AND (f.title, f.asset_id) > (" v "::text, " id "::uuid)"

/* a member's filtered lists, -created_at, first page (bench/api-filter.pl):
 * the SPA's grid of one project (parameters project, limit, '' for no
 * other token, user), a tag's in it (the tag's token, limit, the project's
 * id, user) and a tag's with another token (the tag's token, limit, the
 * other tokens, user) */
#define NGX_MAM_SQL_ASSET_LIST_PROJECT                                        \
    NGX_MAM_SQL_PROJECT_PAGE("", NGX_MAM_SQL_NO_OTHERS, "", "",               \
                             NGX_MAM_SQL_ORDER_P_NEW,                         \
                             NGX_MAM_SQL_PROJECT_SCOPE("$4"))
#define NGX_MAM_SQL_ASSET_LIST_IN_PROJECT                                     \
    NGX_MAM_SQL_ITEM_PAGE(NGX_MAM_SQL_IN_PROJECT("f"), NGX_MAM_SQL_OTHERS_OK, \
                          "", NGX_MAM_SQL_ORDER_F_NEW,                        \
                          NGX_MAM_SQL_IN_PROJECT_SCOPE("$4"))
#define NGX_MAM_SQL_ASSET_LIST_FILTERED                                       \
    NGX_MAM_SQL_ITEM_PAGE(NGX_MAM_SQL_OTHERS("f"), NGX_MAM_SQL_OTHERS_OK, "",  \
                          NGX_MAM_SQL_ORDER_F_NEW,                            \
                          NGX_MAM_SQL_FACET_SCOPE("$4"))


/* -created_at, first page, of a member (not an admin): the API's default
 * list (bench/api-list.pl); parameters limit, user */
#define NGX_MAM_SQL_ASSET_LIST                                                \
    NGX_MAM_SQL_MEMBER_PAGE("", NGX_MAM_SQL_ORDER_NEW, "$2")
/* ... its merge of the member's projects' pages, when it is short */
#define NGX_MAM_SQL_ASSET_LIST_MERGE                                          \
    NGX_MAM_SQL_MEMBER_MERGE("", NGX_MAM_SQL_ORDER_P_NEW,                     \
                             NGX_MAM_SQL_ORDER_NEW, "$2")


/* GET /api/assets/:id: the asset's item, with one row per version's item,
 * newest first (one row with a NULL version without a version); no row:
 * no such live asset, or one the caller may not see (parameters: asset,
 * admin, user) */
#define NGX_MAM_SQL_ASSET_GET                                                 \
    "SELECT a.item, v.item FROM assets a"                                     \
    " LEFT JOIN versions v ON v.asset_id = a.id"                              \
    " WHERE a.id = $1 AND a.deleted_at IS NULL"                               \
    " AND ($2::boolean OR EXISTS (SELECT 1 FROM project_members m"            \
    " WHERE m.project_id = a.project_id AND m.user_id = $3::uuid))"           \
    " ORDER BY v.number DESC"


/* a comment's columns in a page: its item, then its cursor's parts (the id,
 * timestamp_sec and the exact creation time); all NULL without a comment */
#define NGX_MAM_SQL_COMMENT_COLS                                              \
    "c.item, c.id, t.timestamp_sec, t.created_at AT TIME ZONE 'UTC',"        \
    " c.parent_id IS NOT NULL"

#define NGX_MAM_SQL_COMMENT_NCOLS  5

/*
 * GET /api/assets/:id/comments: a keyset page of limit + 1 threads by time
 * code, each thread's first comment followed by its replies in the order
 * they came (at most 100, mam_comment_create); the fifth column says
 * which rows are replies, the cursor's key is the thread's.  No row: no
 * such live asset, or one the caller may not see; one row of NULLs: no
 * thread.  Parameters: asset, limit, after timestamp_sec, after
 * created_at, after id (the first page starts before every comment),
 * admin, user, status ('' all, 'open', 'resolved'), mine (threads the
 * user started or replied to).  The filters test the rows of the asset's
 * threads index (comments_threads_idx, 026): a page reads the asset's
 * threads in order until it has limit + 1 that pass.
 */
#define NGX_MAM_SQL_COMMENT_PAGE                                              \
    "SELECT " NGX_MAM_SQL_COMMENT_COLS                                        \
    " FROM (SELECT id FROM assets x WHERE id = $1 AND deleted_at IS NULL"    \
    " AND ($6::boolean OR EXISTS (SELECT 1 FROM project_members m"            \
    " WHERE m.project_id = x.project_id AND m.user_id = $7::uuid))) a"        \
    " LEFT JOIN LATERAL (SELECT * FROM comments c WHERE c.asset_id = a.id"   \
    " AND c.parent_id IS NULL"                                                \
    " AND (c.timestamp_sec, c.created_at, c.id)"                              \
    " > ($3::numeric, $4::timestamptz, $5::uuid)"                             \
    " AND ($8::text = '' OR ($8::text = 'resolved')"                          \
    " = (c.resolved_at IS NOT NULL))"                                         \
    " AND (NOT $9::boolean OR c.user_id = $7::uuid"                           \
    " OR EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id"           \
    " AND r.user_id = $7::uuid))"                                             \
    " ORDER BY c.timestamp_sec, c.created_at, c.id LIMIT $2) t ON true"       \
    " LEFT JOIN LATERAL (SELECT t.item, t.id, NULL::uuid AS parent_id,"       \
    " NULL::timestamptz AS at"                                                \
    " UNION ALL SELECT r.item, r.id, r.parent_id, r.created_at"               \
    " FROM comments r WHERE r.parent_id = t.id) c ON true"                    \
    " ORDER BY t.timestamp_sec, t.created_at, t.id, c.at NULLS FIRST, c.id"


/*
 * GET /api/versions/:id/approvals (issue 21): a keyset page of limit + 1
 * decisions on a version, newest first by (created_at, id), read backwards
 * from the cursor on version_approvals_version_idx (026): each row's item,
 * its id and its exact time (the cursor's parts).  No row: no such version
 * of a live asset, or one the caller may not see; one row of NULLs: no
 * decision (left).  Parameters: version, limit + 1, the cursor's time and
 * id (the first page: infinity, 0), admin, user.
 */
#define NGX_MAM_SQL_APPROVAL_PAGE                                             \
    "SELECT h.item, h.id, h.created_at AT TIME ZONE 'UTC'"                    \
    " FROM (SELECT v.id FROM versions v JOIN assets a ON a.id = v.asset_id"   \
    " WHERE v.id = $1 AND a.deleted_at IS NULL"                               \
    " AND ($5::boolean OR EXISTS (SELECT 1 FROM project_members m"            \
    " WHERE m.project_id = a.project_id AND m.user_id = $6::uuid))) x"        \
    " LEFT JOIN LATERAL (SELECT mam_approval_entry_json(va) AS item, va.id,"  \
    " va.created_at FROM version_approvals va WHERE va.version_id = x.id"     \
    " AND (va.created_at, va.id) < ($3::timestamptz, $4::bigint)"             \
    " ORDER BY va.created_at DESC, va.id DESC LIMIT $2) h ON true"            \
    " ORDER BY h.created_at DESC, h.id DESC"

#define NGX_MAM_SQL_APPROVAL_NCOLS  3


/* GET /auth/me: the user's item, and the authz_version it is of (the item
 * is cached in Redis under it) */
#define NGX_MAM_SQL_USER_GET                                                  \
    "SELECT item, authz_version FROM users WHERE id = $1"



/*
 * GET /api/audit (ngx_mam_audit.c): a keyset page of limit + 1 audit rows,
 * newest first by (at, id).  Column 0 says whether the caller may read the
 * log: 1 in an admin's statements, the number of projects the caller
 * manages in the others (0: 403; their page is then not read at all);
 * then the row's item (built here: audit rows keep no item), its id and
 * its exact time, the cursor's parts.  A manager's page without a row is
 * one row of NULLs after the count.
 *
 * The module's sessions plan once per statement (force_generic_plan), so
 * "($n IS NULL OR col = $n)" never reaches an index, and a LIMIT $n is
 * planned as a tenth of the rows.  So there is one statement per index a
 * page is read from, chosen by the most selective filter given (asset >
 * actor > project > action > none): its index (schema/019_audit.sql) is
 * read backwards over one range, the filter's value with the time range
 * and the cursor, and cut at a constant NGX_MAM_SQL_AUDIT_READ rows (the
 * most a page may ask, + 1), then at limit + 1; the other filters test the
 * rows read.  The range is two row comparisons on (filter column, at, id)
 * and the order is by the three, not an equality: with "col = $n" the
 * generic plan guesses 1/ndistinct of the rows and, where the column has
 * few distinct values (a small instance's actors), reads the time index
 * and tests col instead, which for a rare value is the whole log; no
 * other index gives this order.
 *
 * A manager's page is read from the asset's or the actor's index, each
 * row tested against the projects they manage, or else from a page of
 * each managed project (audit_log_project_idx) merged and cut: never a row
 * of a project they do not manage.
 *
 * Parameters: $1 limit + 1, $2 from (inclusive), $3 to (exclusive), $4 $5
 * the cursor's time and id (the first page: infinity, 0), $6 actor, $7
 * action, $8 asset, $9 project (each NULL when not a filter); the
 * manager's statements take the user as $10.
 */
#define NGX_MAM_SQL_AUDIT_READ    "101"

#define NGX_MAM_SQL_AUDIT_ITEM(ip)                                            \
    "jsonb_build_object('id', l.id, 'at', mam_time(l.at),"                   \
    " 'actor', CASE WHEN u.id IS NOT NULL THEN jsonb_build_object("          \
    "'id', u.id, 'email', u.email, 'display_name', u.display_name) END,"     \
    " 'action', l.action, 'target_type', l.target_type,"                     \
    " 'target_id', l.target_id, 'project_id', l.project_id,"                 \
    " 'asset_id', l.asset_id, 'details', l.details, 'ip', " ip ")"

/* the upper bound of the range: the cursor or to, whichever is nearer */
#define NGX_MAM_SQL_AUDIT_UPPER                                               \
    "LEAST($3::timestamptz, $4::timestamptz),"                                \
    " CASE WHEN $4::timestamptz < $3::timestamptz THEN $5::bigint"            \
    " ELSE 0 END"

/* the filters, each "($n IS NULL OR col = $n)", as one CASE: PostgreSQL
 * guesses half the rows pass it, where the product of four generic
 * estimates (a fraction of a percent) would make it expect fewer rows in
 * the range than a page and read all of them (a bitmap scan, then a sort)
 * rather than the index backwards until the page is full */
#define NGX_MAM_SQL_AUDIT_TESTS(also)                                         \
    " AND CASE WHEN ($6::uuid IS NULL OR l.user_id = $6::uuid)"               \
    " AND ($7::text IS NULL OR l.action = $7::text)"                          \
    " AND ($8::uuid IS NULL OR l.asset_id = $8::uuid)"                        \
    " AND ($9::uuid IS NULL OR l.project_id = $9::uuid)" also                 \
    " THEN true ELSE false END"

#define NGX_MAM_SQL_AUDIT_ORDER   " ORDER BY l.at DESC, l.id DESC"

/* every row of the range (audit_log_at_idx) */
#define NGX_MAM_SQL_AUDIT_ROWS_ALL                                            \
    "SELECT * FROM audit_log l WHERE l.at >= $2::timestamptz"                 \
    " AND (l.at, l.id) < (" NGX_MAM_SQL_AUDIT_UPPER ")"                       \
    NGX_MAM_SQL_AUDIT_TESTS("") NGX_MAM_SQL_AUDIT_ORDER                       \
    " LIMIT " NGX_MAM_SQL_AUDIT_READ

/* the rows of the range whose column col is v (the index on col, at, id);
 * "first" comes first in the WHERE, "also" in the tests */
#define NGX_MAM_SQL_AUDIT_ROWS_BY(col, v, first, also)                        \
    "SELECT * FROM audit_log l WHERE " first "l." col " IS NOT NULL"          \
    " AND (l." col ", l.at, l.id) >= (" v ", $2::timestamptz, 0)"             \
    " AND (l." col ", l.at, l.id) < (" v ", " NGX_MAM_SQL_AUDIT_UPPER ")"     \
    NGX_MAM_SQL_AUDIT_TESTS(also)                                             \
    " ORDER BY l." col " DESC, l.at DESC, l.id DESC"                          \
    " LIMIT " NGX_MAM_SQL_AUDIT_READ

/* the page's items, with their actors */
#define NGX_MAM_SQL_AUDIT_ITEMS(rows, ip)                                     \
    "SELECT " NGX_MAM_SQL_AUDIT_ITEM(ip) " AS item, l.id,"                    \
    " l.at AT TIME ZONE 'UTC' AS utc, l.at FROM (" rows ") l"                 \
    " LEFT JOIN users u ON u.id = l.user_id"                                  \
    NGX_MAM_SQL_AUDIT_ORDER " LIMIT $1"

/* an admin's page: every row, ip shown */
#define NGX_MAM_SQL_AUDIT_PAGE(rows)                                          \
    "SELECT 1, p.item, p.id, p.utc FROM ("                                    \
    NGX_MAM_SQL_AUDIT_ITEMS(rows, "host(l.ip)")                               \
    ") p ORDER BY p.at DESC, p.id DESC"

#define NGX_MAM_SQL_AUDIT_MANAGED                                             \
    "SELECT m.project_id FROM project_members m"                              \
    " WHERE m.user_id = $10::uuid AND m.role = 'manager'"

/* a manager's page: the rows of "rows", ip hidden */
#define NGX_MAM_SQL_AUDIT_MANAGER(rows)                                       \
    "SELECT k.n, p.item, p.id, p.utc FROM (SELECT count(*) AS n FROM ("       \
    NGX_MAM_SQL_AUDIT_MANAGED ") x) k LEFT JOIN ("                            \
    NGX_MAM_SQL_AUDIT_ITEMS(rows, "NULL")                                     \
    ") p ON true ORDER BY p.at DESC, p.id DESC"

/* ... from one index, each row tested against an array of their
 * projects (made once: an uncorrelated subquery is an InitPlan; no join
 * for the planner to start from the projects); nothing is read unless
 * they manage a project (EXISTS: a one-time filter) */
#define NGX_MAM_SQL_AUDIT_MANAGER_BY(col, v)                                  \
    NGX_MAM_SQL_AUDIT_MANAGER(NGX_MAM_SQL_AUDIT_ROWS_BY(col, v,               \
        "EXISTS (" NGX_MAM_SQL_AUDIT_MANAGED ") AND ",                        \
        " AND l.project_id = ANY (ARRAY(" NGX_MAM_SQL_AUDIT_MANAGED "))"))

/* the statements, by the filter whose index they read (ngx_mam_audit.c
 * chooses; t/43-audit.t checks their plans) */
#define NGX_MAM_SQL_AUDIT_ALL                                                 \
    NGX_MAM_SQL_AUDIT_PAGE(NGX_MAM_SQL_AUDIT_ROWS_ALL)
#define NGX_MAM_SQL_AUDIT_ASSET                                               \
    NGX_MAM_SQL_AUDIT_PAGE(NGX_MAM_SQL_AUDIT_ROWS_BY("asset_id", "$8::uuid", \
                                                     "", ""))
#define NGX_MAM_SQL_AUDIT_ACTOR                                               \
    NGX_MAM_SQL_AUDIT_PAGE(NGX_MAM_SQL_AUDIT_ROWS_BY("user_id", "$6::uuid",  \
                                                     "", ""))
#define NGX_MAM_SQL_AUDIT_PROJECT                                             \
    NGX_MAM_SQL_AUDIT_PAGE(NGX_MAM_SQL_AUDIT_ROWS_BY("project_id",           \
                                                     "$9::uuid", "", ""))
#define NGX_MAM_SQL_AUDIT_ACTION                                              \
    NGX_MAM_SQL_AUDIT_PAGE(NGX_MAM_SQL_AUDIT_ROWS_BY("action", "$7::text",   \
                                                     "", ""))
#define NGX_MAM_SQL_AUDIT_MANAGER_ASSET                                       \
    NGX_MAM_SQL_AUDIT_MANAGER_BY("asset_id", "$8::uuid")
#define NGX_MAM_SQL_AUDIT_MANAGER_ACTOR                                       \
    NGX_MAM_SQL_AUDIT_MANAGER_BY("user_id", "$6::uuid")

/* ... or a page of each managed project (or of the one asked for),
 * merged: at most projects x NGX_MAM_SQL_AUDIT_READ rows read */
#define NGX_MAM_SQL_AUDIT_MANAGER_PROJECTS                                    \
    NGX_MAM_SQL_AUDIT_MANAGER(                                                \
        "SELECT l.* FROM (" NGX_MAM_SQL_AUDIT_MANAGED                         \
        " AND ($9::uuid IS NULL OR m.project_id = $9::uuid)) m"               \
        " CROSS JOIN LATERAL ("                                               \
        NGX_MAM_SQL_AUDIT_ROWS_BY("project_id", "m.project_id", "", "")       \
        ") l" NGX_MAM_SQL_AUDIT_ORDER " LIMIT " NGX_MAM_SQL_AUDIT_READ)

#define NGX_MAM_SQL_AUDIT_NCOLS    4


/*
 * GET /api/webhooks/:id/deliveries (ngx_mam_webhooks.c): the caller's rank
 * in the webhook's project, then a keyset page of limit + 1 deliveries,
 * newest first by id, each its item and id (the item is built here: a
 * delivery changes with every attempt and is read rarely).  No row: no
 * such webhook; the page is read only for a manager (rank 4); one row of
 * NULLs: none.  Parameters: webhook, user, admin, before id, limit.
 */
#define NGX_MAM_SQL_WEBHOOK_LOG                                               \
    "SELECT w.rank, d.item, d.id FROM (SELECT x.id,"                          \
    " mam_project_rank(x.project_id, $2::uuid, $3::boolean) AS rank"          \
    " FROM webhooks x WHERE x.id = $1::uuid) w"                               \
    " LEFT JOIN LATERAL (SELECT mam_webhook_delivery_json(l)::text AS item,"  \
    " l.id FROM webhook_deliveries l WHERE w.rank = 4"                        \
    " AND l.webhook_id = w.id AND l.id < $4::bigint"                          \
    " ORDER BY l.id DESC LIMIT $5::integer) d ON true ORDER BY d.id DESC"

#define NGX_MAM_SQL_WEBHOOK_LOG_NCOLS  3


/*
 * GET /api/notifications (ngx_mam_notifications.c, issue 21): a keyset
 * page of the caller's notifications, newest first, with the count of the
 * unread ones (at most NGX_MAM_SQL_UNREAD_MAX: the badge says "999+"
 * beyond).  Only those of assets the caller may still see, checked as the
 * rows are read (mam_notification_visible: a live asset of a project they
 * are a member of now).  The unread filter reads its partial index.
 * Columns: the unread count, the item, its id and created_at in UTC (the
 * cursor's key); a page without rows is one row with the count and NULLs.
 * Parameters: $1 the user, $2 admin, $3 limit + 1, $4 $5 the cursor's
 * time and id (the first page: infinity and any id).
 */
#define NGX_MAM_SQL_UNREAD_MAX   "1000"

#define NGX_MAM_SQL_NOTIFICATION_PAGE(unread)                                 \
    "SELECT k.n, CASE WHEN p.id IS NOT NULL"                                  \
    " THEN mam_notification_json(p.row) END, p.id,"                           \
    " p.created_at AT TIME ZONE 'UTC'"                                        \
    " FROM (SELECT count(*) AS n FROM (SELECT 1 FROM notifications n"         \
    " WHERE n.user_id = $1::uuid AND n.read_at IS NULL"                       \
    " AND mam_notification_visible(n, $2::boolean)"                           \
    " LIMIT " NGX_MAM_SQL_UNREAD_MAX ") x) k"                                 \
    " LEFT JOIN (SELECT n AS row, n.id, n.created_at FROM notifications n"    \
    " WHERE n.user_id = $1::uuid" unread                                      \
    " AND (n.created_at, n.id) < ($4::timestamptz, $5::uuid)"                 \
    " AND mam_notification_visible(n, $2::boolean)"                           \
    " ORDER BY n.created_at DESC, n.id DESC LIMIT $3) p ON true"              \
    " ORDER BY p.created_at DESC, p.id DESC"

#define NGX_MAM_SQL_NOTIFICATION_ALL     NGX_MAM_SQL_NOTIFICATION_PAGE("")
#define NGX_MAM_SQL_NOTIFICATION_UNREAD                                       \
    NGX_MAM_SQL_NOTIFICATION_PAGE(" AND n.read_at IS NULL")

#define NGX_MAM_SQL_NOTIFICATION_NCOLS  4


#endif /* _NGX_MAM_SQL_H_INCLUDED_ */

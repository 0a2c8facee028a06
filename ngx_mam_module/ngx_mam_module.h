/*
 * ngx_mam_module: shared declarations of the module's files.
 */

#ifndef _NGX_MAM_MODULE_H_INCLUDED_
#define _NGX_MAM_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <jansson.h>

#include "mam_authz.h"
#include "mam_jwt.h"
#include "mam_outcome.h"
#include "mam_s3.h"
#include "mam_store.h"


#define NGX_MAM_VERSION          "0.1.0"
#define NGX_MAM_MAX_PARAMS       4

/* compact, and doubles printed as people wrote them (0.3, not 0.2999...) */
#define NGX_MAM_JSON_FLAGS       (JSON_COMPACT | JSON_REAL_PRECISION(15))

#ifndef NGX_HTTP_GONE
#define NGX_HTTP_GONE            410
#endif


typedef struct ngx_mam_pg_pool_s     ngx_mam_pg_pool_t;
typedef struct ngx_mam_redis_s       ngx_mam_redis_t;
typedef struct ngx_mam_ctx_s         ngx_mam_ctx_t;
typedef struct ngx_mam_statement_s   ngx_mam_statement_t;
typedef struct ngx_mam_edge_epoch_s  ngx_mam_edge_epoch_t;


typedef struct {
    ngx_str_t                 pg_conninfo;
    ngx_uint_t                pg_pool_size;
    ngx_uint_t                pg_queue_size;
    ngx_msec_t                pg_queue_timeout;
    ngx_msec_t                pg_query_timeout;
    ngx_flag_t                pg_prepare;         /* named statements */

    ngx_str_t                 redis_addr;
    ngx_msec_t                redis_timeout;
    ngx_str_t                 redis_user;         /* ACL user, or none */
    ngx_str_t                 redis_password;     /* AUTH, or none */
    ngx_int_t                 preview_maxlen;     /* XADD MAXLEN ~ */

    ngx_str_t                 jwt_key;
    ngx_str_t                 sign_key;
    ngx_str_t                 sign_key_previous;  /* rotation */
    ngx_str_t                 edge_key_file;      /* hex, derived */
    ngx_str_t                 edge_key_previous_file;

    /* one key per purpose (mam_key.h), derived from sign_key or, for the
     * edge, given by mam_edge_key_file; empty where not configured */
    ngx_str_t                 edge_key;
    ngx_str_t                 edge_key_previous;  /* rotation */
    ngx_str_t                 upload_key;
    ngx_str_t                 tus_key;
    ngx_str_t                 cursor_key;
    ngx_str_t                 callback_key;

    size_t                    json_body_limit;

    /* mam_thread_pool, and one pool per kind of work (defaulting to it):
     * NGX_MAM_THREAD_HASH, _FILES, _S3 */
    ngx_str_t                 thread_pool_name;
    ngx_str_t                 thread_pool_names[3];
    ngx_thread_pool_t        *thread_pools[3];
    ngx_uint_t                hash_nice;       /* mam_hash_nice */

    ngx_flag_t                api_used;

    ngx_uint_t                registration;
    time_t                    access_token_ttl;
    time_t                    refresh_token_ttl;

    ngx_flag_t                rate_limits;
    ngx_uint_t                rate_limit_auth;   /* per IP, per minute */
    ngx_uint_t                rate_limit_api;    /* per IP, per minute */
    ngx_uint_t                rate_limit_user;   /* per user, per minute */
    ngx_uint_t                rate_limit_callback;  /* per IP, per minute */

    ngx_array_t              *health_deep_allow;  /* of ngx_cidr_t */

    ngx_str_t                 storage_root;      /* local storage */
    off_t                     upload_max_size;
    time_t                    upload_url_ttl;
    off_t                     upload_resumable_threshold;
    time_t                    upload_resumable_ttl;
    size_t                    upload_part_size;       /* S3 multipart */
    time_t                    staging_ttl;
    ngx_msec_t                housekeeping_interval;
    off_t                     user_quota;        /* bytes, 0: off */
    ngx_uint_t                uploads_pending;   /* open uploads, 0: off */
    time_t                    session_retention;   /* 0: off */
    time_t                    audit_retention;     /* 0: off */
    ngx_str_t                 upload_prefix;     /* the mam_upload location */

    ngx_flag_t                edge_used;
    ngx_flag_t                edge_bind_ip;
    ngx_str_t                 edge_url;          /* signed URLs start so */
    ngx_flag_t                edge_revocation;   /* with mam_redis */
    ngx_msec_t                edge_epoch_ttl;
    ngx_int_t                 edge_epoch_slots;
    /* $mam_edge_cache_key, $mam_edge_no_cache: set by the edge before its
     * internal redirect, read by the previews location's proxy_cache */
    ngx_int_t                 edge_cache_key_index;
    ngx_int_t                 edge_no_cache_index;

    /* the storage (mam_store.h): local under storage_root, or S3 when
     * s3 is set (then s3 is &store->s3) */
    mam_store_t              *store;
    mam_s3_t                 *s3;
    ngx_str_t                 s3_endpoint;
    ngx_str_t                 s3_region;
    ngx_str_t                 s3_credentials_file;
    ngx_flag_t                s3_path_style;
    ngx_flag_t                s3_object_lock;
    ngx_str_t                 s3_sse;            /* "AES256", "aws:kms [ID]" */
    ngx_str_t                 s3_bucket[3];      /* staging, masters, previews */
    ngx_msec_t                s3_timeout;
    size_t                    s3_low_speed_limit;
    time_t                    s3_low_speed_time;

    ngx_msec_t                events_ping;
    ngx_uint_t                events_per_user;   /* open streams, all workers */
    ngx_msec_t                reconcile_interval;
    time_t                    preview_stall;
    ngx_msec_t                enqueue_grace;

    /* per worker process, created in init_process */
    ngx_mam_pg_pool_t        *pg;
    ngx_mam_redis_t          *redis;
    mam_jwt_memo_t           *jwt_memo;     /* this worker's verified tokens */
    mam_authz_memo_t         *authz_memo;   /* users' authz, mam_rate_limits
                                               off (ngx_mam_auth.c) */
    ngx_mam_edge_epoch_t     *edge_epochs;  /* NULL: no revocation check */

    ngx_shm_zone_t           *authz_zone;   /* the authz memo's shared change
                                               counters (limits off) */
} ngx_mam_main_conf_t;


/*
 * The module by job: one .so declares five nginx modules (see `config`).
 * ngx_mam_module is the core (PostgreSQL, Redis, threads, keys and the
 * shared main configuration, per-worker start and stop); the others own a
 * job's location directives, location configuration, phase handlers and
 * per-request context slot:
 *   ngx_mam_api_module      mam_api, mam_api_error (ngx_mam_router.c)
 *   ngx_mam_upload_module   mam_upload: PUT and tus (ngx_mam_upload.c)
 *   ngx_mam_edge_module     mam_edge*: signed playback (ngx_mam_edge.c)
 *   ngx_mam_metrics_module  mam_metrics (ngx_mam_metrics.c)
 */
typedef struct {
    ngx_flag_t                api;
} ngx_mam_api_loc_conf_t;

typedef struct {
    ngx_flag_t                upload;
} ngx_mam_upload_loc_conf_t;

typedef struct {
    ngx_flag_t                edge;
    ngx_str_t                 edge_previews;     /* internal location */
    ngx_str_t                 edge_masters;      /* internal location */
    ngx_str_t                 edge_cors_origin;
} ngx_mam_edge_loc_conf_t;


/* a route handler: returns NGX_DONE when it will finalize the request
 * itself later, or the result of ngx_mam_send_*() / an HTTP status */
typedef ngx_int_t (*ngx_mam_route_handler_pt)(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);


/* who may call a route; owner checks are the handlers' (they need the
 * resource), through ngx_mam_may_modify() */
typedef enum {
    NGX_MAM_PUBLIC = 0,      /* no token; rate-limited per IP */
    NGX_MAM_UNLIMITED,       /* no token, no rate limit (health) */
    NGX_MAM_USER,            /* any valid token of an active user */
    NGX_MAM_EDITOR,
    NGX_MAM_ADMIN
} ngx_mam_access_e;


#define NGX_MAM_REGISTRATION_OPEN      0
#define NGX_MAM_REGISTRATION_APPROVAL  1
#define NGX_MAM_REGISTRATION_CLOSED    2


/* the rate window a route's requests count in (per address) */
typedef enum {
    NGX_MAM_WINDOW_API = 0,  /* mam_rate_limit_api */
    NGX_MAM_WINDOW_AUTH,     /* mam_rate_limit_auth: /auth/ */
    NGX_MAM_WINDOW_CALLBACK  /* mam_rate_limit_callback: transcoderd's
                                signed callbacks, apart from the users' */
} ngx_mam_window_e;


/* the route may be opened with a single-use ?ticket= instead of a token
 * (EventSource cannot send headers) */
#define NGX_MAM_ROUTE_TICKET     0x01
/* the gate also reads the user's cached item (ctx->user_item): /auth/me */
#define NGX_MAM_ROUTE_USER_ITEM  0x02


typedef struct {
    ngx_uint_t                methods;
    const char               *pattern;
    ngx_mam_route_handler_pt  handler;
    ngx_mam_access_e          access;
    ngx_mam_window_e          window;
    ngx_uint_t                flags;     /* NGX_MAM_ROUTE_* */
    /* with handler ngx_mam_statement_handler: the route's one statement */
    const ngx_mam_statement_t *statement;
} ngx_mam_route_t;


typedef struct {
    ngx_str_t                 name;
    ngx_str_t                 value;
} ngx_mam_param_t;


struct ngx_mam_ctx_s {
    const ngx_mam_route_t    *route;
    ngx_mam_param_t           params[NGX_MAM_MAX_PARAMS];
    ngx_uint_t                nparams;
    json_t                   *body;      /* parsed JSON object or NULL */
    ngx_str_t                 raw_body;  /* its bytes (callback HMAC) */
    void                     *data;      /* the route handler's own state */
    ngx_uint_t                authenticated;
    mam_jwt_claims_t          user;      /* when authenticated */
    long                      authz_av;  /* the user's, as the gate saw it */
    ngx_str_t                 user_item; /* NGX_MAM_ROUTE_USER_ITEM: cached */
    long                      user_item_av;  /* ... as of this version */
    /* values a handler worked out before its statement runs
     * (NGX_MAM_ARG_EXTRA: a review link's token hash, a guest's session
     * hash, a passphrase's Argon2id hash) */
    const char               *extra[2];
    unsigned                  access_phase:1;  /* gated in NGX_HTTP_ACCESS_PHASE */
    unsigned                  passed:1;        /* ... and let through */
};


extern ngx_module_t  ngx_mam_module;
extern ngx_module_t  ngx_mam_api_module;
extern ngx_module_t  ngx_mam_upload_module;
extern ngx_module_t  ngx_mam_edge_module;
extern ngx_module_t  ngx_mam_metrics_module;

/* ngx_mam_module.c: a location directive whose command's post is one of
 * these gets that content handler */
typedef struct {
    ngx_http_handler_pt       handler;
} ngx_mam_conf_handler_t;

char *ngx_mam_conf_set_location_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_mam_module.c: the enclosing location when it is a plain prefix
 * ending in "/" (upload and edge build and parse URLs under its name) */
ngx_http_core_loc_conf_t *ngx_mam_conf_prefix_location(ngx_conf_t *cf);


/* ngx_mam_router.c */
ngx_int_t ngx_mam_router_handler(ngx_http_request_t *r);
ngx_int_t ngx_mam_router_access_handler(ngx_http_request_t *r);
ngx_str_t *ngx_mam_param(ngx_mam_ctx_t *ctx, const char *name);
/* the route's :name as a NUL-terminated UUID in r->pool; NULL when it is
 * not a UUID (or out of memory) */
char *ngx_mam_param_uuid(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char *name);

/* ngx_mam_json.c */

/* an answer's JSON text, written piece by piece into pool buffers: JSON
 * values (jansson) and JSON texts that are whole already (rows' items).
 * A piece that cannot be written marks the answer failed and the pieces
 * after it do nothing, so a writer checks once, when it sends. */
typedef struct {
    ngx_pool_t               *pool;
    ngx_chain_t              *first;
    ngx_chain_t             **last;
    ngx_buf_t                *b;
    size_t                    size;
    ngx_uint_t                failed;
} ngx_mam_answer_t;

void ngx_mam_answer_init(ngx_http_request_t *r, ngx_mam_answer_t *a);
void ngx_mam_answer_add(ngx_mam_answer_t *a, const char *text, size_t len);
#define ngx_mam_answer_text(a, literal)                                       \
    ngx_mam_answer_add(a, literal, sizeof(literal) - 1)
void ngx_mam_answer_add_json(ngx_mam_answer_t *a, json_t *value);
/* NGX_ERROR for a failed answer */
ngx_int_t ngx_mam_answer_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_mam_answer_t *a);
void ngx_mam_answer_finish(ngx_http_request_t *r, ngx_mam_answer_t *a);
ngx_int_t ngx_mam_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *value);
ngx_int_t ngx_mam_api_error_handler(ngx_http_request_t *r);
ngx_int_t ngx_mam_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
ngx_int_t ngx_mam_send_no_content(ngx_http_request_t *r);
void ngx_mam_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
void ngx_mam_discard_unread_body(ngx_http_request_t *r);
ngx_int_t ngx_mam_json_body(ngx_http_request_t *r, json_t **body,
    ngx_str_t *raw, const char **message);
ngx_int_t ngx_mam_json_cleanup_add(ngx_pool_t *pool, json_t *value);
ngx_int_t ngx_mam_body_string(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char *name, size_t min, size_t max, ngx_uint_t required,
    ngx_str_t *out, const char **message);
ngx_int_t ngx_mam_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
const char *ngx_mam_message(ngx_pool_t *pool, const char *fmt, ...);
mam_outcome_t ngx_mam_outcome(json_t *v);

/* ngx_mam_auth.c */
void ngx_mam_auth_gate(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_uint_t ngx_mam_has_role(ngx_mam_ctx_t *ctx, ngx_uint_t role);
ngx_uint_t ngx_mam_may_modify(ngx_mam_ctx_t *ctx, ngx_str_t *owner_id);
ngx_int_t ngx_mam_auth_bearer(ngx_http_request_t *r, mam_jwt_claims_t *user);
ngx_str_t *ngx_mam_client_ip(ngx_http_request_t *r);
const char *ngx_mam_ip(ngx_http_request_t *r);
void ngx_mam_router_run_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);

/* ngx_mam_thread.c: each kind of blocking work has its own thread pool,
 * so a login flood cannot stall file work nor a slow S3 logins */
#define NGX_MAM_THREAD_HASH   0     /* Argon2: mam_thread_pool_hash */
#define NGX_MAM_THREAD_FILES  1     /* local files: mam_thread_pool_files */
#define NGX_MAM_THREAD_S3     2     /* S3 calls: mam_thread_pool_s3 */

typedef void (*ngx_mam_thread_work_pt)(void *data);
typedef void (*ngx_mam_thread_done_pt)(ngx_http_request_t *r, void *data);

ngx_int_t ngx_mam_thread_run(ngx_http_request_t *r, ngx_uint_t kind,
    ngx_mam_thread_work_pt work, ngx_mam_thread_done_pt done, void *data);
ngx_int_t ngx_mam_thread_refused(ngx_http_request_t *r, ngx_int_t rc);

typedef void (*ngx_mam_task_done_pt)(void *data);

ngx_int_t ngx_mam_thread_task(ngx_pool_t *mem, ngx_uint_t kind,
    ngx_mam_thread_work_pt work, ngx_mam_task_done_pt done, void *data);

/* lists: query arguments, limit, signed keyset cursors, a page's answer
 * (ngx_mam_assets.c; the comment list and the audit log use them too) */
ngx_int_t ngx_mam_list_arg(ngx_http_request_t *r, const char *name,
    size_t max, ngx_str_t *out);
ngx_int_t ngx_mam_arg_decode(ngx_http_request_t *r, ngx_str_t *raw,
    size_t max, ngx_str_t *out);

/* the asset list's filters (ngx_mam_filters.c): the tokens of the facets
 * they ask for and the created_at range; on 0 when the request has none */
typedef struct {
    ngx_uint_t   on;
    ngx_uint_t   project;      /* the driver is a project: driver is its id */
    ngx_uint_t   items;        /* the driver's rows carry the items (024) */
    ngx_uint_t   in_project;   /* the only other token is a project:
                                  others is "p:" and its id */
    ngx_str_t    driver;       /* the token the page reads by, NUL-ended */
    ngx_str_t    tokens;       /* every token, newline-separated, NUL-ended */
    ngx_str_t    others;       /* every token but the driver, the same way */
    const char  *from;         /* created_at >=, or NULL */
    const char  *to;           /* created_at <, or NULL */
} ngx_mam_filter_t;

extern const char  ngx_mam_filter_nomem[];

/* NULL, the message of a 400, or ngx_mam_filter_nomem */
const char *ngx_mam_filter_args(ngx_http_request_t *r, ngx_mam_filter_t *f);
const char *ngx_mam_time_arg(ngx_http_request_t *r, ngx_str_t *v);
ngx_int_t ngx_mam_list_limit(ngx_http_request_t *r, ngx_uint_t *limit);
ngx_int_t ngx_mam_list_limit_or(ngx_http_request_t *r, ngx_uint_t dflt,
    ngx_uint_t *limit);
ngx_int_t ngx_mam_cursor_parse(ngx_http_request_t *r, ngx_str_t *cursor,
    ngx_str_t *scope, char **after_id, char **after_value);
json_t *ngx_mam_cursor_make(ngx_http_request_t *r, ngx_str_t *scope,
    const char *id, ngx_str_t *key);

/* route handlers */
ngx_int_t ngx_mam_health_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_register_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_login_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_refresh_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_me_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_presign_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_assets_create_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_assets_list_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_promote_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_sign_preview_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_comments_list_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_approvals_list_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_audit_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_notifications_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
/* review links (ngx_mam_shares.c, issue 22) */
ngx_int_t ngx_mam_share_write_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_share_guest_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_share_session_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);

/* statement routes (ngx_mam_statement.c), defined beside their feature */
extern const ngx_mam_statement_t  ngx_mam_comment_create;
extern const ngx_mam_statement_t  ngx_mam_comment_delete;
extern const ngx_mam_statement_t  ngx_mam_comment_update;
extern const ngx_mam_statement_t  ngx_mam_comment_resolve;
extern const ngx_mam_statement_t  ngx_mam_comment_reopen;
extern const ngx_mam_statement_t  ngx_mam_version_approve;
extern const ngx_mam_statement_t  ngx_mam_notification_read;
extern const ngx_mam_statement_t  ngx_mam_notifications_read_all;
extern const ngx_mam_statement_t  ngx_mam_member_find;
extern const ngx_mam_statement_t  ngx_mam_asset_get;
extern const ngx_mam_statement_t  ngx_mam_asset_update;
extern const ngx_mam_statement_t  ngx_mam_asset_delete;
extern const ngx_mam_statement_t  ngx_mam_user_me;
extern const ngx_mam_statement_t  ngx_mam_logout;
extern const ngx_mam_statement_t  ngx_mam_users_list;
extern const ngx_mam_statement_t  ngx_mam_users_update;
extern const ngx_mam_statement_t  ngx_mam_preview_status;
extern const ngx_mam_statement_t  ngx_mam_project_create;
extern const ngx_mam_statement_t  ngx_mam_project_list;
extern const ngx_mam_statement_t  ngx_mam_project_get;
extern const ngx_mam_statement_t  ngx_mam_project_update;
extern const ngx_mam_statement_t  ngx_mam_project_delete;
extern const ngx_mam_statement_t  ngx_mam_member_add;
extern const ngx_mam_statement_t  ngx_mam_member_update;
extern const ngx_mam_statement_t  ngx_mam_member_remove;
extern const ngx_mam_statement_t  ngx_mam_folder_list;
extern const ngx_mam_statement_t  ngx_mam_folder_create;
extern const ngx_mam_statement_t  ngx_mam_folder_update;
extern const ngx_mam_statement_t  ngx_mam_folder_delete;
extern const ngx_mam_statement_t  ngx_mam_version_download;
extern const ngx_mam_statement_t  ngx_mam_field_list;
extern const ngx_mam_statement_t  ngx_mam_field_create;
extern const ngx_mam_statement_t  ngx_mam_field_update;
extern const ngx_mam_statement_t  ngx_mam_field_delete;
extern const ngx_mam_statement_t  ngx_mam_assets_bulk;
extern const ngx_mam_statement_t  ngx_mam_webhook_list;
extern const ngx_mam_statement_t  ngx_mam_webhook_create;
extern const ngx_mam_statement_t  ngx_mam_webhook_get;
extern const ngx_mam_statement_t  ngx_mam_webhook_update;
extern const ngx_mam_statement_t  ngx_mam_webhook_delete;
extern const ngx_mam_statement_t  ngx_mam_webhook_test;
ngx_int_t ngx_mam_webhooks_log_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
/* review links (issue 22): members', then guests' */
extern const ngx_mam_statement_t  ngx_mam_share_create;
extern const ngx_mam_statement_t  ngx_mam_share_list;
extern const ngx_mam_statement_t  ngx_mam_share_get;
extern const ngx_mam_statement_t  ngx_mam_share_update;
extern const ngx_mam_statement_t  ngx_mam_share_revoke;
extern const ngx_mam_statement_t  ngx_mam_share_open;
extern const ngx_mam_statement_t  ngx_mam_share_comments;
extern const ngx_mam_statement_t  ngx_mam_share_comment;
extern const ngx_mam_statement_t  ngx_mam_share_approve;
extern const ngx_mam_statement_t  ngx_mam_share_sign;
extern const ngx_mam_statement_t  ngx_mam_share_download;

ngx_int_t ngx_mam_preview_request_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_preview_callback_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_events_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
ngx_int_t ngx_mam_events_ticket_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);


/* ngx_mam_upload.c: the PUT location */
ngx_int_t ngx_mam_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_mam_upload_verify(ngx_http_request_t *r, char *id_out,
    const char *user, time_t *expires_out);
ngx_int_t ngx_mam_upload_pending(json_t *v, const char **message);
void ngx_mam_upload_terminate(ngx_http_request_t *r, const char *id,
    const char *user);

/* ngx_mam_metrics.c */
ngx_int_t ngx_mam_metrics_add_variable(ngx_conf_t *cf);
ngx_int_t ngx_mam_metrics_init_process(ngx_cycle_t *cycle);
void ngx_mam_metrics_exit_process(void);
void ngx_mam_metrics_mark_edge(ngx_http_request_t *r);
ngx_int_t ngx_mam_route_index(const ngx_mam_route_t *route);
const char *ngx_mam_route_name(ngx_uint_t i);
ngx_uint_t ngx_mam_events_clients(void);

/* ngx_mam_tus.c: the same location's tus 1.0 methods */
ngx_int_t ngx_mam_tus_handler(ngx_http_request_t *r);

/* ngx_mam_multipart.c: resumable uploads on S3 */
void ngx_mam_multipart_start(ngx_http_request_t *r, json_t *upload,
    const char *content_type, json_int_t size);
ngx_int_t ngx_mam_multipart_handler(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);

/* ngx_mam_edge.c: the signed playback location */
ngx_int_t ngx_mam_edge_handler(ngx_http_request_t *r);
ngx_int_t ngx_mam_edge_not_found_handler(ngx_http_request_t *r);
ngx_int_t ngx_mam_edge_add_variables(ngx_conf_t *cf);
/* the worker's play epoch cache, and on an edge-only host its Redis
 * client, when mam_redis is set and mam_edge_revocation is on */
ngx_int_t ngx_mam_edge_init_process(ngx_cycle_t *cycle,
    ngx_mam_main_conf_t *mcf);

/* ngx_mam_events.c, ngx_mam_reconcile.c: per-worker parts of previews */
ngx_int_t ngx_mam_events_init(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf);
void ngx_mam_events_exit(void);
ngx_int_t ngx_mam_reconcile_init(ngx_cycle_t *cycle,
    ngx_mam_main_conf_t *mcf);

/* ngx_mam_housekeeping.c */
ngx_int_t ngx_mam_housekeeping_init(ngx_cycle_t *cycle,
    ngx_mam_main_conf_t *mcf);

/* ngx_mam_module.c */
char *ngx_mam_cstr(ngx_pool_t *pool, ngx_str_t *s);

/* a shared zone's init, for a zone that holds one zeroed block */
ngx_int_t ngx_mam_shm_block_init(ngx_shm_zone_t *zone, void *data,
    size_t size);

/*
 * The timers of the module's own periodic work (housekeeping, reconcile,
 * pings, metrics): cancelable, so they never hold a worker that shuts
 * down, and not armed again once it does.
 */
void ngx_mam_timer_start(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_msec_t first);
void ngx_mam_timer_again(ngx_event_t *ev, ngx_msec_t interval);

static ngx_inline ngx_uint_t
ngx_mam_shutting_down(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


static ngx_inline ngx_uint_t
ngx_mam_is_token_char(u_char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}


static ngx_inline ngx_mam_main_conf_t *
ngx_mam_main_conf(void)
{
    return ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_mam_module);
}


#endif /* _NGX_MAM_MODULE_H_INCLUDED_ */

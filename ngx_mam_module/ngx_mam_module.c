/*
 * ngx_mam_module: directives, configuration and the per-worker clients.
 * The API itself is in ngx_mam_router.c and the route handlers' files.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include "mam_key.h"
#include "mam_storage.h"


typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    ngx_int_t                 low;
    ngx_int_t                 high;
    const char               *unit;
} ngx_mam_conf_bounds_t;


static char *ngx_mam_conf_bounds(ngx_conf_t *cf, void *post, void *data);
static char *ngx_mam_conf_msec_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_mam_conf_set_pg(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_mam_conf_redis_addr(ngx_conf_t *cf, void *post, void *data);
static char *ngx_mam_conf_set_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_mam_conf_set_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_mam_conf_set_health_deep_allow(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_mam_conf_set_s3_buckets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_mam_conf_set_s3_sse(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_mam_conf_storage_root(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_mam_conf_set_sec_off_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_conf_post_t  ngx_mam_storage_root_post = {
    ngx_mam_conf_storage_root
};

static void *ngx_mam_create_main_conf(ngx_conf_t *cf);
static char *ngx_mam_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_mam_conf_keys(ngx_conf_t *cf, ngx_mam_main_conf_t *mcf);
static ngx_int_t ngx_mam_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_mam_authz_zone_add(ngx_conf_t *cf,
    ngx_mam_main_conf_t *mcf);
static ngx_int_t ngx_mam_init_process(ngx_cycle_t *cycle);
static void ngx_mam_exit_process(ngx_cycle_t *cycle);


static ngx_mam_conf_bounds_t  ngx_mam_pool_size_bounds = {
    ngx_mam_conf_bounds, 1, 1024, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_queue_size_bounds = {
    ngx_mam_conf_bounds, 0, 65536, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_queue_timeout_bounds = {
    ngx_mam_conf_msec_bounds, 1, 600000, "ms"
};

static ngx_mam_conf_bounds_t  ngx_mam_backend_timeout_bounds = {
    ngx_mam_conf_msec_bounds, 100, 3600000, "ms"
};

static ngx_mam_conf_bounds_t  ngx_mam_hash_nice_bounds = {
    ngx_mam_conf_bounds, 0, 19, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_json_limit_bounds = {
    ngx_mam_conf_bounds, 1024, 16 * 1024 * 1024, " bytes"
};

static ngx_mam_conf_bounds_t  ngx_mam_rate_limit_bounds = {
    ngx_mam_conf_bounds, 1, 1000000, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_access_ttl_bounds = {
    ngx_mam_conf_bounds, 60, 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_refresh_ttl_bounds = {
    ngx_mam_conf_bounds, 3600, 365 * 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_upload_url_ttl_bounds = {
    ngx_mam_conf_bounds, 60, 7 * 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_staging_ttl_bounds = {
    ngx_mam_conf_bounds, 1, 365 * 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_uploads_pending_bounds = {
    ngx_mam_conf_bounds, 0, 1000000, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_retention_bounds = {
    ngx_mam_conf_bounds, 1, 3650 * 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_events_ping_bounds = {
    ngx_mam_conf_msec_bounds, 100, 3600000, "ms"
};

static ngx_mam_conf_bounds_t  ngx_mam_events_per_user_bounds = {
    ngx_mam_conf_bounds, 1, 10000, ""
};

static ngx_mam_conf_bounds_t  ngx_mam_reconcile_bounds = {
    ngx_mam_conf_msec_bounds, 100, 86400000, "ms"
};

static ngx_mam_conf_bounds_t  ngx_mam_stall_bounds = {
    ngx_mam_conf_bounds, 1, 86400, "s"
};

static ngx_mam_conf_bounds_t  ngx_mam_enqueue_grace_bounds = {
    ngx_mam_conf_msec_bounds, 1000, 3600000, "ms"
};

/* never below what reconciliation reads of the stream (reconcile.c) */
static ngx_mam_conf_bounds_t  ngx_mam_stream_maxlen_bounds = {
    ngx_mam_conf_bounds, 10000, 1000000000, " entries"
};

static ngx_mam_conf_bounds_t  ngx_mam_housekeeping_bounds = {
    ngx_mam_conf_msec_bounds, 100, 86400000, "ms"
};

static ngx_conf_post_t  ngx_mam_redis_addr_post = {
    ngx_mam_conf_redis_addr
};

static ngx_conf_enum_t  ngx_mam_registration_modes[] = {
    { ngx_string("open"), NGX_MAM_REGISTRATION_OPEN },
    { ngx_string("approval"), NGX_MAM_REGISTRATION_APPROVAL },
    { ngx_string("closed"), NGX_MAM_REGISTRATION_CLOSED },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_mam_commands[] = {

    { ngx_string("mam_pg"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_pg,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_conninfo),
      NULL },

    { ngx_string("mam_pg_pool_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_pool_size),
      &ngx_mam_pool_size_bounds },

    { ngx_string("mam_pg_queue_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_queue_size),
      &ngx_mam_queue_size_bounds },

    { ngx_string("mam_pg_queue_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_queue_timeout),
      &ngx_mam_queue_timeout_bounds },

    { ngx_string("mam_pg_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_query_timeout),
      &ngx_mam_backend_timeout_bounds },

    { ngx_string("mam_pg_prepare"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, pg_prepare),
      NULL },

    { ngx_string("mam_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, redis_addr),
      &ngx_mam_redis_addr_post },

    { ngx_string("mam_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, redis_timeout),
      &ngx_mam_backend_timeout_bounds },

    { ngx_string("mam_redis_user"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, redis_user),
      NULL },

    { ngx_string("mam_redis_password_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, redis_password),
      NULL },

    { ngx_string("mam_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, jwt_key),
      NULL },

    { ngx_string("mam_sign_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, sign_key),
      NULL },

    { ngx_string("mam_sign_key_previous_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, sign_key_previous),
      NULL },

    { ngx_string("mam_edge_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_key_file),
      NULL },

    { ngx_string("mam_edge_key_previous_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_key_previous_file),
      NULL },

    { ngx_string("mam_callback_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, callback_key),
      NULL },

    { ngx_string("mam_json_body_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, json_body_limit),
      &ngx_mam_json_limit_bounds },

    { ngx_string("mam_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("mam_thread_pool_hash"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, thread_pool_names[NGX_MAM_THREAD_HASH]),
      NULL },

    { ngx_string("mam_hash_nice"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, hash_nice),
      &ngx_mam_hash_nice_bounds },

    { ngx_string("mam_thread_pool_files"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, thread_pool_names[NGX_MAM_THREAD_FILES]),
      NULL },

    { ngx_string("mam_thread_pool_s3"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, thread_pool_names[NGX_MAM_THREAD_S3]),
      NULL },

    { ngx_string("mam_registration"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, registration),
      &ngx_mam_registration_modes },

    { ngx_string("mam_access_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, access_token_ttl),
      &ngx_mam_access_ttl_bounds },

    { ngx_string("mam_refresh_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, refresh_token_ttl),
      &ngx_mam_refresh_ttl_bounds },

    { ngx_string("mam_rate_limits"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, rate_limits),
      NULL },

    { ngx_string("mam_rate_limit_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, rate_limit_auth),
      &ngx_mam_rate_limit_bounds },

    { ngx_string("mam_rate_limit_api"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, rate_limit_api),
      &ngx_mam_rate_limit_bounds },

    { ngx_string("mam_rate_limit_user"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, rate_limit_user),
      &ngx_mam_rate_limit_bounds },

    { ngx_string("mam_rate_limit_callback"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, rate_limit_callback),
      &ngx_mam_rate_limit_bounds },

    { ngx_string("mam_health_deep_allow"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_mam_conf_set_health_deep_allow,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mam_storage_root"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, storage_root),
      &ngx_mam_storage_root_post },

    { ngx_string("mam_upload_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, upload_max_size),
      NULL },

    { ngx_string("mam_upload_url_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, upload_url_ttl),
      &ngx_mam_upload_url_ttl_bounds },

    { ngx_string("mam_upload_resumable_threshold"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, upload_resumable_threshold),
      NULL },

    { ngx_string("mam_upload_resumable_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, upload_resumable_ttl),
      &ngx_mam_upload_url_ttl_bounds },

    { ngx_string("mam_upload_part_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, upload_part_size),
      NULL },

    { ngx_string("mam_staging_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, staging_ttl),
      &ngx_mam_staging_ttl_bounds },

    { ngx_string("mam_user_quota"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, user_quota),
      NULL },

    { ngx_string("mam_uploads_pending"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, uploads_pending),
      &ngx_mam_uploads_pending_bounds },

    { ngx_string("mam_housekeeping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, housekeeping_interval),
      &ngx_mam_housekeeping_bounds },

    { ngx_string("mam_session_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_sec_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, session_retention),
      &ngx_mam_retention_bounds },

    { ngx_string("mam_audit_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_mam_conf_set_sec_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, audit_retention),
      &ngx_mam_retention_bounds },

    { ngx_string("mam_events_ping"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, events_ping),
      &ngx_mam_events_ping_bounds },

    { ngx_string("mam_events_per_user"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, events_per_user),
      &ngx_mam_events_per_user_bounds },

    { ngx_string("mam_preview_reconcile_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, reconcile_interval),
      &ngx_mam_reconcile_bounds },

    { ngx_string("mam_preview_stall_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, preview_stall),
      &ngx_mam_stall_bounds },

    { ngx_string("mam_preview_enqueue_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, enqueue_grace),
      &ngx_mam_enqueue_grace_bounds },

    { ngx_string("mam_preview_stream_maxlen"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, preview_maxlen),
      &ngx_mam_stream_maxlen_bounds },

    { ngx_string("mam_s3_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_endpoint),
      NULL },

    { ngx_string("mam_s3_region"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_region),
      NULL },

    { ngx_string("mam_s3_credentials_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_credentials_file),
      NULL },

    { ngx_string("mam_s3_path_style"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_path_style),
      NULL },

    { ngx_string("mam_s3_object_lock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_object_lock),
      NULL },

    { ngx_string("mam_s3_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_timeout),
      NULL },

    { ngx_string("mam_s3_low_speed_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_low_speed_limit),
      NULL },

    { ngx_string("mam_s3_low_speed_time"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, s3_low_speed_time),
      NULL },

    { ngx_string("mam_s3_sse"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_mam_conf_set_s3_sse,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mam_s3_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_mam_conf_set_s3_buckets,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mam_edge_bind_ip"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_bind_ip),
      NULL },

    { ngx_string("mam_edge_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_url),
      NULL },

    /* revocation (README, Revocation): the play epochs the edge reads
     * from Redis and keeps per worker */
    { ngx_string("mam_edge_revocation"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_revocation),
      NULL },

    { ngx_string("mam_edge_epoch_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_epoch_ttl),
      NULL },

    { ngx_string("mam_edge_epoch_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mam_main_conf_t, edge_epoch_slots),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_mam_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_mam_postconfiguration,             /* postconfiguration */

    ngx_mam_create_main_conf,              /* create main configuration */
    ngx_mam_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_mam_module = {
    NGX_MODULE_V1,
    &ngx_mam_module_ctx,                   /* module context */
    ngx_mam_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_mam_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_mam_exit_process,                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


char *
ngx_mam_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';

    return (char *) p;
}


/*
 * nginx's own bounds check logs without the directive's name; these return
 * the message so that nginx prefixes it with the directive.
 */
static char *
ngx_mam_conf_bounds_message(ngx_conf_t *cf, ngx_mam_conf_bounds_t *b)
{
    u_char  *msg;

    msg = ngx_pnalloc(cf->pool, 96);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_snprintf(msg, 95, "must be between %i%s and %i%s",
                  b->low, b->unit, b->high, b->unit) = '\0';

    return (char *) msg;
}


static char *
ngx_mam_conf_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_mam_conf_bounds_t  *b = post;
    ngx_int_t              *np = data;

    if (*np < b->low || *np > b->high) {
        return ngx_mam_conf_bounds_message(cf, b);
    }

    return NGX_CONF_OK;
}


static char *
ngx_mam_conf_msec_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_mam_conf_bounds_t  *b = post;
    ngx_msec_t             *mp = data;

    if (*mp < (ngx_msec_t) b->low || *mp > (ngx_msec_t) b->high) {
        return ngx_mam_conf_bounds_message(cf, b);
    }

    return NGX_CONF_OK;
}


/* a time in seconds (with its bounds) or "off", kept as 0 */
static char *
ngx_mam_conf_set_sec_off_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    time_t     *sp;
    ngx_str_t  *value;

    sp = (time_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (*sp == NGX_CONF_UNSET
        && value[1].len == 3
        && ngx_strncmp(value[1].data, "off", 3) == 0)
    {
        *sp = 0;
        return NGX_CONF_OK;
    }

    return ngx_conf_set_sec_slot(cf, cmd, conf);
}


static char *
ngx_mam_conf_redis_addr(ngx_conf_t *cf, void *post, void *data)
{
    (void) cf;
    (void) post;

    return ngx_mam_redis_parse_addr(data);
}


/* true when connecting to this host needs no name lookup */
static ngx_uint_t
ngx_mam_conf_pg_host_ok(const char *host)
{
    u_char  buf[16];

    return host[0] == '/' || host[0] == '@'
           || inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}


/*
 * libpq connects without blocking only when it does no name lookup, so
 * host must be a socket directory or an IP address unless hostaddr is set.
 */
static char *
ngx_mam_conf_set_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char               *rv, *conninfo, *errmsg, *host, *hostaddr, *h, *next;
    ngx_str_t          *value;
    PQconninfoOption   *opts, *o;
    ngx_mam_main_conf_t *mcf = conf;

    if (mcf->pg_conninfo.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    conninfo = ngx_mam_cstr(cf->pool, &value[1]);
    if (conninfo == NULL) {
        return NGX_CONF_ERROR;
    }

    opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" has an invalid connection string: %s",
                           &cmd->name, errmsg ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;

    for (o = opts; o->keyword; o++) {
        if (o->val && ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (o->val && ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;
        }
    }

    rv = NGX_CONF_OK;

    for (h = host; h && !hostaddr && rv == NGX_CONF_OK; h = next) {
        next = strchr(h, ',');
        if (next) {
            *next++ = '\0';
        }

        if (!ngx_mam_conf_pg_host_ok(h)) {
            rv = "host must be a socket directory or an IP address (or give "
                 "hostaddr=): a name lookup would block the worker";
        }
    }

    PQconninfoFree(opts);

    if (rv == NGX_CONF_OK) {
        mcf->pg_conninfo = value[1];
    }

    return rv;
}


/* a secret file of at least min bytes into the ngx_str_t at cmd->offset:
 * read once at configuration time, never logged */
static char *
ngx_mam_conf_load_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf,
    size_t min)
{
    char       *path, err[256];
    size_t      len;
    u_char     *secret;
    ngx_str_t  *value, *field, name;

    field = (ngx_str_t *) ((char *) conf + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path = ngx_mam_cstr(cf->pool, &name);
    secret = ngx_pnalloc(cf->pool, MAM_KEY_MAX_LEN);
    if (path == NULL || secret == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mam_secret_load(path, secret, MAM_KEY_MAX_LEN, min, &len, err,
                        sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name,
                           err);
        return NGX_CONF_ERROR;
    }

    field->data = secret;
    field->len = len;

    return NGX_CONF_OK;
}


/* a Redis password: any length from 1 byte */
static char *
ngx_mam_conf_set_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_mam_conf_load_secret(cf, cmd, conf, 1);
}


/* a key: at least MAM_KEY_MIN_LEN bytes */
static char *
ngx_mam_conf_set_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_mam_conf_load_secret(cf, cmd, conf, MAM_KEY_MIN_LEN);
}


/* mam_health_deep_allow CIDR...: who may ask /api/health for a live probe
 * (?deep=1, ?probe=); everyone else gets the per-worker cached answer */
static char *
ngx_mam_conf_set_health_deep_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_mam_main_conf_t  *mcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (mcf->health_deep_allow) {
        return "is duplicate";
    }

    mcf->health_deep_allow = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                              sizeof(ngx_cidr_t));
    if (mcf->health_deep_allow == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(mcf->health_deep_allow);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" has an invalid address or network "
                               "\"%V\"", &cmd->name, &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"%V\": low address bits of %V are "
                               "meaningless", &cmd->name, &value[i]);
        }
    }

    return NGX_CONF_OK;
}


/* an absolute path without a trailing slash (keys are appended to it) */
static char *
ngx_mam_conf_storage_root(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *root = data;

    (void) post;

    if (ngx_conf_full_name(cf->cycle, root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (root->len > 1 && root->data[root->len - 1] == '/') {
        root->len--;
    }

    if (root->len > 512) {
        return "is too long (at most 512 bytes)";
    }

    return NGX_CONF_OK;
}


/*
 * A directive that makes its location answer with one content handler
 * (mam_api_error, mam_edge_not_found, mam_metrics): the handler comes in
 * the command's post field, an ngx_mam_conf_handler_t.
 */
char *
ngx_mam_conf_set_location_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t      *clcf;
    const ngx_mam_conf_handler_t  *h = cmd->post;

    (void) conf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = h->handler;

    return NGX_CONF_OK;
}


/* the enclosing location when it is a plain prefix ending in "/" (the
 * module builds and parses URLs under that name) */
ngx_http_core_loc_conf_t *
ngx_mam_conf_prefix_location(ngx_conf_t *cf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named || clcf->exact_match || clcf->regex != NULL
        || clcf->name.len < 2 || clcf->name.data[0] != '/'
        || clcf->name.data[clcf->name.len - 1] != '/')
    {
        return NULL;
    }

    return clcf;
}


static char *
ngx_mam_conf_set_s3_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_uint_t            i;
    ngx_str_t            *value;
    ngx_mam_main_conf_t  *mcf = conf;

    (void) cmd;

    if (mcf->s3_bucket[0].data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    for (i = 0; i < 3; i++) {
        if (value[i + 1].len < 3 || value[i + 1].len > 63
            || !mam_key_valid((char *) value[i + 1].data, value[i + 1].len)
            || ngx_strlchr(value[i + 1].data,
                           value[i + 1].data + value[i + 1].len, '/'))
        {
            return "takes three bucket names: staging, masters, previews";
        }
        mcf->s3_bucket[i] = value[i + 1];
    }

    return NGX_CONF_OK;
}


/* mam_s3_sse AES256 | aws:kms [KEY_ID]: server-side encryption of every
 * object the module or the browser writes (default AES256) */
static char *
ngx_mam_conf_set_s3_sse(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char               *p;
    mam_s3_t              check;
    ngx_str_t            *value;
    ngx_mam_main_conf_t  *mcf = conf;

    (void) cmd;

    if (mcf->s3_sse.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    p = ngx_pnalloc(cf->pool, value[1].len + 1
                              + (cf->args->nelts > 2 ? value[2].len : 0) + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }
    mcf->s3_sse.data = p;
    p = ngx_cpymem(p, value[1].data, value[1].len);
    if (cf->args->nelts > 2) {
        *p++ = ' ';
        p = ngx_cpymem(p, value[2].data, value[2].len);
    }
    *p = '\0';
    mcf->s3_sse.len = p - mcf->s3_sse.data;

    ngx_memzero(&check, sizeof(check));
    if (mam_s3_set_sse(&check, (char *) mcf->s3_sse.data) != 0) {
        return "takes AES256, aws:kms or aws:kms KEY_ID";
    }

    return NGX_CONF_OK;
}


/* S3 configured: all of it or nothing, checked at nginx -t */
static char *
ngx_mam_conf_s3(ngx_conf_t *cf, ngx_mam_main_conf_t *mcf)
{
    char   err[256], *path, *endpoint;

    if (mcf->s3_endpoint.data == NULL) {
        if (mcf->s3_bucket[0].data || mcf->s3_credentials_file.data) {
            return "\"mam_s3_buckets\" and \"mam_s3_credentials_file\" need "
                   "\"mam_s3_endpoint\"";
        }
        return NGX_CONF_OK;
    }

    if (mcf->s3_bucket[0].data == NULL || mcf->s3_credentials_file.data == NULL)
    {
        return "\"mam_s3_endpoint\" needs \"mam_s3_buckets\" and "
               "\"mam_s3_credentials_file\"";
    }

    /* the client lives in the store; mcf->s3 is a shortcut for the code
     * that signs requests in the event loop (presigned URLs, the edge) */
    mcf->s3 = &mcf->store->s3;
    endpoint = ngx_mam_cstr(cf->pool, &mcf->s3_endpoint);
    if (ngx_conf_full_name(cf->cycle, &mcf->s3_credentials_file, 1) != NGX_OK
        || endpoint == NULL)
    {
        return NGX_CONF_ERROR;
    }
    path = ngx_mam_cstr(cf->pool, &mcf->s3_credentials_file);

    if (mam_s3_set_endpoint(mcf->s3, endpoint) != 0) {
        return "\"mam_s3_endpoint\" must be http://host[:port] or "
               "https://host[:port]";
    }
    if (path == NULL
        || mam_s3_load_credentials(mcf->s3, path, err, sizeof(err)) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_s3_credentials_file\": %s", err);
        return NGX_CONF_ERROR;
    }

    if (mcf->s3_region.data == NULL) {
        ngx_str_set(&mcf->s3_region, "us-east-1");
    }
    if (mcf->s3_region.len >= sizeof(mcf->s3->region)) {
        return "\"mam_s3_region\" is too long";
    }
    ngx_memcpy(mcf->s3->region, mcf->s3_region.data, mcf->s3_region.len);
    mcf->s3->path_style = mcf->s3_path_style == 1;
    mcf->s3->timeout_ms = (long) mcf->s3_timeout;
    mcf->s3->low_speed_limit = (long) mcf->s3_low_speed_limit;
    mcf->s3->low_speed_time = (long) mcf->s3_low_speed_time;

    if (mam_s3_set_sse(mcf->s3, mcf->s3_sse.data ? (char *) mcf->s3_sse.data
                                                 : "AES256")
        != 0)
    {
        return "\"mam_s3_sse\" takes AES256, aws:kms or aws:kms KEY_ID";
    }

    if (mam_store_init_s3(mcf->store,
                          ngx_mam_cstr(cf->pool, &mcf->s3_bucket[0]),
                          ngx_mam_cstr(cf->pool, &mcf->s3_bucket[1]),
                          ngx_mam_cstr(cf->pool, &mcf->s3_bucket[2]))
        != 0)
    {
        return NGX_CONF_ERROR;
    }
    mcf->store->object_lock = mcf->s3_object_lock == 1;
    mcf->store->part_size = (off_t) mcf->upload_part_size;

    return NGX_CONF_OK;
}


/*
 * The storage both the API and housekeeping use (mam_store.h): local files
 * under mam_storage_root, or S3 when mam_s3_endpoint is set.  Read-only
 * after this, so the thread pool's tasks share it.
 */
static char *
ngx_mam_conf_store(ngx_conf_t *cf, ngx_mam_main_conf_t *mcf)
{
    char  *root;

    mcf->store = ngx_pcalloc(cf->pool, sizeof(mam_store_t));
    if (mcf->store == NULL) {
        return NGX_CONF_ERROR;
    }

    /* mam_storage_root is required by mam_api, checked once the locations
     * are known; until then a store without a root has no local paths */
    if (mcf->storage_root.data) {
        root = ngx_mam_cstr(cf->pool, &mcf->storage_root);
        if (root == NULL || mam_store_init_local(mcf->store, root) != 0) {
            return "\"mam_storage_root\" must be an absolute path";
        }
    }

    return ngx_mam_conf_s3(cf, mcf);
}


static void *
ngx_mam_create_main_conf(ngx_conf_t *cf)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_mam_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    mcf->pg_pool_size = NGX_CONF_UNSET_UINT;
    mcf->hash_nice = NGX_CONF_UNSET_UINT;
    mcf->pg_queue_size = NGX_CONF_UNSET_UINT;
    mcf->pg_queue_timeout = NGX_CONF_UNSET_MSEC;
    mcf->pg_query_timeout = NGX_CONF_UNSET_MSEC;
    mcf->pg_prepare = NGX_CONF_UNSET;
    mcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    mcf->json_body_limit = NGX_CONF_UNSET_SIZE;
    mcf->registration = NGX_CONF_UNSET_UINT;
    mcf->access_token_ttl = NGX_CONF_UNSET;
    mcf->refresh_token_ttl = NGX_CONF_UNSET;
    mcf->rate_limits = NGX_CONF_UNSET;
    mcf->rate_limit_auth = NGX_CONF_UNSET_UINT;
    mcf->rate_limit_api = NGX_CONF_UNSET_UINT;
    mcf->rate_limit_user = NGX_CONF_UNSET_UINT;
    mcf->rate_limit_callback = NGX_CONF_UNSET_UINT;
    mcf->upload_max_size = NGX_CONF_UNSET;
    mcf->upload_url_ttl = NGX_CONF_UNSET;
    mcf->upload_resumable_threshold = NGX_CONF_UNSET;
    mcf->user_quota = NGX_CONF_UNSET;
    mcf->uploads_pending = NGX_CONF_UNSET_UINT;
    mcf->upload_resumable_ttl = NGX_CONF_UNSET;
    mcf->upload_part_size = NGX_CONF_UNSET_SIZE;
    mcf->staging_ttl = NGX_CONF_UNSET;
    mcf->housekeeping_interval = NGX_CONF_UNSET_MSEC;
    mcf->session_retention = NGX_CONF_UNSET;
    mcf->audit_retention = NGX_CONF_UNSET;
    mcf->edge_bind_ip = NGX_CONF_UNSET;
    mcf->edge_revocation = NGX_CONF_UNSET;
    mcf->edge_epoch_ttl = NGX_CONF_UNSET_MSEC;
    mcf->edge_epoch_slots = NGX_CONF_UNSET;
    mcf->s3_path_style = NGX_CONF_UNSET;
    mcf->s3_object_lock = NGX_CONF_UNSET;
    mcf->s3_timeout = NGX_CONF_UNSET_MSEC;
    mcf->s3_low_speed_limit = NGX_CONF_UNSET_SIZE;
    mcf->s3_low_speed_time = NGX_CONF_UNSET;
    mcf->events_ping = NGX_CONF_UNSET_MSEC;
    mcf->events_per_user = NGX_CONF_UNSET_UINT;
    mcf->reconcile_interval = NGX_CONF_UNSET_MSEC;
    mcf->preview_stall = NGX_CONF_UNSET;
    mcf->enqueue_grace = NGX_CONF_UNSET_MSEC;
    mcf->preview_maxlen = NGX_CONF_UNSET;

    return mcf;
}


static char *
ngx_mam_init_main_conf(ngx_conf_t *cf, void *conf)
{
    char                 *rv;
    ngx_str_t            *hash, *other;
    ngx_uint_t            i;
    ngx_mam_main_conf_t  *mcf = conf;

    ngx_conf_init_uint_value(mcf->pg_pool_size, 4);
    ngx_conf_init_uint_value(mcf->pg_queue_size, 1024);
    ngx_conf_init_msec_value(mcf->pg_queue_timeout, 10000);
    ngx_conf_init_msec_value(mcf->pg_query_timeout, 30000);
    ngx_conf_init_value(mcf->pg_prepare, 1);
    ngx_conf_init_msec_value(mcf->redis_timeout, 3000);
    ngx_conf_init_size_value(mcf->json_body_limit, 64 * 1024);
    ngx_conf_init_uint_value(mcf->registration, NGX_MAM_REGISTRATION_OPEN);
    ngx_conf_init_value(mcf->access_token_ttl, 900);
    ngx_conf_init_value(mcf->refresh_token_ttl, 30 * 86400);
    ngx_conf_init_value(mcf->rate_limits, 1);
    ngx_conf_init_uint_value(mcf->rate_limit_auth, 300);
    ngx_conf_init_uint_value(mcf->rate_limit_api, 3000);
    ngx_conf_init_uint_value(mcf->rate_limit_user, 1200);
    ngx_conf_init_uint_value(mcf->rate_limit_callback, 6000);
    ngx_conf_init_value(mcf->upload_max_size, (off_t) 20 << 30);
    ngx_conf_init_value(mcf->upload_url_ttl, 3600);
    ngx_conf_init_value(mcf->upload_resumable_threshold, 0);
    ngx_conf_init_value(mcf->user_quota, 0);
    ngx_conf_init_uint_value(mcf->uploads_pending, 0);
    ngx_conf_init_value(mcf->upload_resumable_ttl, 86400);
    ngx_conf_init_size_value(mcf->upload_part_size, 64 << 20);
    ngx_conf_init_value(mcf->staging_ttl, 7 * 86400);
    ngx_conf_init_msec_value(mcf->housekeeping_interval, 3600000);
    ngx_conf_init_value(mcf->session_retention, 30 * 86400);
    ngx_conf_init_value(mcf->audit_retention, 0);
    ngx_conf_init_value(mcf->edge_bind_ip, 0);
    ngx_conf_init_value(mcf->edge_revocation, 1);
    ngx_conf_init_msec_value(mcf->edge_epoch_ttl, 15000);
    ngx_conf_init_value(mcf->edge_epoch_slots, 8192);

    /* the bound issue 22 promises: a revocation reaches every edge within
     * a minute; the cache is a fixed table per worker */
    if (mcf->edge_epoch_ttl < 1000 || mcf->edge_epoch_ttl > 30000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_edge_epoch_ttl\" must be 1s..30s");
        return NGX_CONF_ERROR;
    }

    if (mcf->edge_epoch_slots < 16 || mcf->edge_epoch_slots > 1048576) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_edge_epoch_cache\" must be 16..1048576");
        return NGX_CONF_ERROR;
    }
    ngx_conf_init_value(mcf->s3_path_style, 0);
    ngx_conf_init_value(mcf->s3_object_lock, 0);
    ngx_conf_init_msec_value(mcf->s3_timeout, MAM_S3_TIMEOUT_MS);
    ngx_conf_init_size_value(mcf->s3_low_speed_limit, MAM_S3_LOW_SPEED_LIMIT);
    ngx_conf_init_value(mcf->s3_low_speed_time, MAM_S3_LOW_SPEED_TIME);

    if (mcf->s3_timeout < 1 || mcf->s3_low_speed_limit < 1
        || mcf->s3_low_speed_time < 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_s3_timeout\", \"mam_s3_low_speed_limit\" "
                           "and \"mam_s3_low_speed_time\" must be positive");
        return NGX_CONF_ERROR;
    }

    if (ngx_mam_conf_keys(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_mam_conf_store(cf, mcf);
    if (rv != NGX_CONF_OK) {
        if (rv != NGX_CONF_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", rv);
        }
        return NGX_CONF_ERROR;
    }
    ngx_conf_init_msec_value(mcf->events_ping, 15000);
    ngx_conf_init_uint_value(mcf->events_per_user, 8);
    ngx_conf_init_msec_value(mcf->reconcile_interval, 30000);
    ngx_conf_init_value(mcf->preview_stall, 300);
    ngx_conf_init_msec_value(mcf->enqueue_grace, 10000);
    ngx_conf_init_value(mcf->preview_maxlen, 100000);

    if (mcf->edge_url.data == NULL) {
        ngx_str_set(&mcf->edge_url, "/s/");
    }

    if (mcf->edge_url.len > 512
        || mcf->edge_url.data[mcf->edge_url.len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_edge_url\" must end in \"/\" (at most 512 "
                           "bytes)");
        return NGX_CONF_ERROR;
    }

    if (mcf->upload_max_size < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_upload_max_size\" must be at least 1 byte");
        return NGX_CONF_ERROR;
    }

    /* S3's own bounds for a part that is not the last */
    if (mcf->upload_part_size < (5 << 20)
        || mcf->upload_part_size > ((size_t) 5 << 30))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_upload_part_size\" must be 5m..5g");
        return NGX_CONF_ERROR;
    }

    if (mcf->thread_pool_name.data == NULL) {
        ngx_str_set(&mcf->thread_pool_name, "default");
    }

    for (i = 0; i < 3; i++) {
        if (mcf->thread_pool_names[i].data == NULL) {
            mcf->thread_pool_names[i] = mcf->thread_pool_name;
        }

        /* declares the pool; nginx rejects a name no thread_pool defines */
        if (mcf->api_used
            && ngx_thread_pool_add(cf, &mcf->thread_pool_names[i]) == NULL)
        {
            return NGX_CONF_ERROR;
        }
    }

    /* a niced thread cannot be un-niced: only a pool that hashes alone */
    ngx_conf_init_uint_value(mcf->hash_nice, 0);

    hash = &mcf->thread_pool_names[NGX_MAM_THREAD_HASH];

    for (i = NGX_MAM_THREAD_FILES; mcf->hash_nice && i < 3; i++) {
        other = &mcf->thread_pool_names[i];

        if (hash->len != other->len
            || ngx_strncmp(hash->data, other->data, hash->len) != 0)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_hash_nice\" needs \"mam_thread_pool_hash\" "
                           "to name a thread pool of its own");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* key = HKDF-SHA256(master, label), MAM_KEY_DERIVED_LEN bytes */
static ngx_int_t
ngx_mam_conf_derive(ngx_conf_t *cf, ngx_str_t *master, const char *label,
    ngx_str_t *key)
{
    key->data = ngx_pnalloc(cf->pool, MAM_KEY_DERIVED_LEN);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    if (mam_key_derive(master->data, master->len, label, key->data) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot derive the \"%s\" key (HKDF-SHA256)",
                           label);
        return NGX_ERROR;
    }

    key->len = MAM_KEY_DERIVED_LEN;

    return NGX_OK;
}


/*
 * The edge key: the derived key of mam_edge_key_file (hex) and, where
 * mam_sign_key_file (master) is given too, the same as the one derived from
 * it; or, without the file, the one derived from the master.
 */
static ngx_int_t
ngx_mam_conf_edge_key(ngx_conf_t *cf, const char *directive,
    ngx_str_t *file, const char *master_directive, ngx_str_t *master,
    ngx_str_t *key)
{
    char       err[128];
    ngx_str_t  derived;

    if (master->data
        && ngx_mam_conf_derive(cf, master, MAM_KEY_LABEL_EDGE, &derived)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (file->data == NULL) {
        if (master->data) {
            *key = derived;
        }
        return NGX_OK;
    }

    key->data = ngx_pnalloc(cf->pool, MAM_KEY_DERIVED_LEN);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    if (mam_key_from_hex(file->data, file->len, key->data, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%s\": %s", directive,
                           err);
        return NGX_ERROR;
    }

    key->len = MAM_KEY_DERIVED_LEN;

    if (master->data
        && CRYPTO_memcmp(key->data, derived.data, MAM_KEY_DERIVED_LEN) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" is not the edge key of \"%s\"",
                           directive, master_directive);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* one key per purpose from mam_sign_key_file, the edge's from
 * mam_edge_key_file where only that is given (README "Keys") */
static char *
ngx_mam_conf_keys(ngx_conf_t *cf, ngx_mam_main_conf_t *mcf)
{
    if (ngx_mam_conf_edge_key(cf, "mam_edge_key_file", &mcf->edge_key_file,
                              "mam_sign_key_file", &mcf->sign_key,
                              &mcf->edge_key)
        != NGX_OK
        || ngx_mam_conf_edge_key(cf, "mam_edge_key_previous_file",
                                 &mcf->edge_key_previous_file,
                                 "mam_sign_key_previous_file",
                                 &mcf->sign_key_previous,
                                 &mcf->edge_key_previous)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (mcf->sign_key.data == NULL) {
        return NGX_CONF_OK;
    }

    if (ngx_mam_conf_derive(cf, &mcf->sign_key, MAM_KEY_LABEL_UPLOAD,
                            &mcf->upload_key)
        != NGX_OK
        || ngx_mam_conf_derive(cf, &mcf->sign_key, MAM_KEY_LABEL_TUS,
                               &mcf->tus_key)
           != NGX_OK
        || ngx_mam_conf_derive(cf, &mcf->sign_key, MAM_KEY_LABEL_CURSOR,
                               &mcf->cursor_key)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_mam_postconfiguration(ngx_conf_t *cf)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);

    if (mcf->edge_used && mcf->edge_key.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_sign_key_file\" is required where "
                           "\"mam_edge\" is used (or \"mam_edge_key_file\" "
                           "on an edge-only host)");
        return NGX_ERROR;
    }

    /* the edge key alone cannot verify (nor mint) upload URLs */
    if (mcf->upload_prefix.data && mcf->sign_key.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_sign_key_file\" is required where "
                           "\"mam_upload\" is used");
        return NGX_ERROR;
    }

    if (!mcf->api_used) {
        return NGX_OK;
    }

    if (mcf->pg_conninfo.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_pg\" is required where \"mam_api\" is used");
        return NGX_ERROR;
    }

    if (mcf->jwt_key.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_jwt_key_file\" is required where "
                           "\"mam_api\" is used");
        return NGX_ERROR;
    }

    if (mcf->redis_addr.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_redis\" is required where \"mam_api\" is "
                           "used");
        return NGX_ERROR;
    }

    if (mcf->redis_user.data && mcf->redis_password.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_redis_user\" needs "
                           "\"mam_redis_password_file\"");
        return NGX_ERROR;
    }

    if (mcf->storage_root.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_storage_root\" is required where "
                           "\"mam_api\" is used");
        return NGX_ERROR;
    }

    if (mcf->sign_key.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_sign_key_file\" is required where "
                           "\"mam_api\" is used");
        return NGX_ERROR;
    }

    if (mcf->upload_prefix.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a location with \"mam_upload\" is required where "
                           "\"mam_api\" is used");
        return NGX_ERROR;
    }

    return mcf->rate_limits ? NGX_OK : ngx_mam_authz_zone_add(cf, mcf);
}


/*
 * The init of a shared zone holding one zeroed block of size bytes.  nginx
 * makes every shared zone a slab pool (its master unlocks the pool's mutex
 * for a worker that died): the block is allocated from it, never written
 * over its header.  A reload keeps the old zone and what it holds.
 */
ngx_int_t
ngx_mam_shm_block_init(ngx_shm_zone_t *zone, void *data, size_t size)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    zone->data = ngx_slab_calloc(shpool, size);
    if (zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = zone->data;

    return NGX_OK;
}


static ngx_int_t
ngx_mam_authz_zone_init(ngx_shm_zone_t *zone, void *data)
{
    return ngx_mam_shm_block_init(zone, data,
                                  MAM_AUTHZ_MEMO_SLOTS * sizeof(unsigned long));
}


/* the workers' shared change counters of the authz memo (libmam
 * mam_authz.h): a change made by one worker is not used stale by another
 * that has not heard it on its subscription yet */
static ngx_int_t
ngx_mam_authz_zone_add(ngx_conf_t *cf, ngx_mam_main_conf_t *mcf)
{
    ngx_str_t  name = ngx_string("mam_authz");

    mcf->authz_zone = ngx_shared_memory_add(cf, &name,
                          ngx_align(MAM_AUTHZ_MEMO_SLOTS * sizeof(unsigned long)
                                    + 8 * ngx_pagesize, ngx_pagesize),
                          &ngx_mam_module);
    if (mcf->authz_zone == NULL) {
        return NGX_ERROR;
    }

    mcf->authz_zone->init = ngx_mam_authz_zone_init;

    return NGX_OK;
}


/*
 * nginx's debug log names a timer by ngx_event_ident(ev->data), the fd of
 * the connection data is taken to be: a timer of no connection points at
 * this one (fd -1), or `error_log ... debug` would crash the worker.
 */
static ngx_connection_t  ngx_mam_timer_ident = { .fd = (ngx_socket_t) -1 };


void
ngx_mam_timer_start(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_msec_t first)
{
    ev->handler = handler;
    ev->data = data ? data : &ngx_mam_timer_ident;
    ev->log = ngx_cycle->log;
    ev->cancelable = 1;

    ngx_add_timer(ev, first);
}


void
ngx_mam_timer_again(ngx_event_t *ev, ngx_msec_t interval)
{
    if (!ngx_mam_shutting_down()) {
        ngx_add_timer(ev, interval);
    }
}


static ngx_mam_main_conf_t *
ngx_mam_cycle_main_conf(ngx_cycle_t *cycle)
{
    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NULL;
    }

    return ngx_http_cycle_get_module_main_conf(cycle, ngx_mam_module);
}


static ngx_int_t
ngx_mam_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_cycle_main_conf(cycle);
    if (mcf == NULL) {
        return NGX_OK;
    }

    if (!mcf->api_used) {
        return ngx_mam_edge_init_process(cycle, mcf);
    }

    for (i = 0; i < 3; i++) {
        mcf->thread_pools[i] = ngx_thread_pool_get(cycle,
                                                   &mcf->thread_pool_names[i]);
    }

    mcf->pg = ngx_mam_pg_pool_create(cycle, mcf);
    if (mcf->pg == NULL) {
        return NGX_ERROR;
    }

    mcf->redis = ngx_mam_redis_create(cycle, mcf, NULL);
    if (mcf->redis == NULL || ngx_mam_edge_init_process(cycle, mcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    mcf->jwt_memo = ngx_palloc(cycle->pool, sizeof(mam_jwt_memo_t));
    if (mcf->jwt_memo == NULL) {
        return NGX_ERROR;
    }
    mam_jwt_memo_init(mcf->jwt_memo, mcf->jwt_key.data, mcf->jwt_key.len);

    if (!mcf->rate_limits) {
        mcf->authz_memo = ngx_palloc(cycle->pool, sizeof(mam_authz_memo_t));
        if (mcf->authz_memo == NULL) {
            return NGX_ERROR;
        }
        mam_authz_memo_init(mcf->authz_memo);

        if (mcf->authz_zone && mcf->authz_zone->data) {
            mam_authz_memo_share(mcf->authz_memo, mcf->authz_zone->data);
        }
    }

    if (ngx_mam_events_init(cycle, mcf) != NGX_OK
        || ngx_mam_reconcile_init(cycle, mcf) != NGX_OK
        || ngx_mam_metrics_init_process(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_mam_housekeeping_init(cycle, mcf);
}


static void
ngx_mam_exit_process(ngx_cycle_t *cycle)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_cycle_main_conf(cycle);
    if (mcf == NULL) {
        return;
    }

    ngx_mam_metrics_exit_process();

    if (mcf->pg) {
        ngx_mam_pg_pool_destroy(mcf->pg);
        mcf->pg = NULL;
    }

    if (mcf->redis) {
        ngx_mam_redis_destroy(mcf->redis);
        mcf->redis = NULL;
    }

    ngx_mam_events_exit();
}

/*
 * hiredis' asynchronous API on an nginx event adapter, one context per
 * client object, reconnecting with backoff.  Handlers get a reply (or NULL
 * when Redis is unreachable) in a callback from the event loop.
 */

#ifndef _NGX_MAM_REDIS_H_INCLUDED_
#define _NGX_MAM_REDIS_H_INCLUDED_


#include "ngx_mam_module.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/* reply is NULL when Redis is down or the connection was lost; it is
 * freed by hiredis after the handler returns */
typedef void (*ngx_mam_redis_handler_pt)(ngx_http_request_t *r,
    redisReply *reply, void *data);

typedef void (*ngx_mam_redis_task_pt)(redisReply *reply, void *data);

/* called each time the client (re)connects: a place to SUBSCRIBE again */
typedef void (*ngx_mam_redis_connected_pt)(ngx_mam_redis_t *rd);


/* connects to mcf's mam_redis, AUTH first when a password is set */
ngx_mam_redis_t *ngx_mam_redis_create(ngx_cycle_t *cycle,
    ngx_mam_main_conf_t *mcf, ngx_mam_redis_connected_pt connected);
void ngx_mam_redis_destroy(ngx_mam_redis_t *rd);
redisAsyncContext *ngx_mam_redis_context(ngx_mam_redis_t *rd);

/* argv/argvlen must stay valid for the call only (hiredis copies them) */
ngx_int_t ngx_mam_redis_command(ngx_http_request_t *r, ngx_mam_redis_t *rd,
    ngx_mam_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

ngx_int_t ngx_mam_redis_task_command(ngx_mam_redis_t *rd,
    ngx_mam_redis_task_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen);

/* writes the user's "authz_version:status" unless a newer one is cached;
 * done(r, reply or NULL, data) runs once Redis has applied it, so an answer
 * sent from there is never ahead of the cache; done may be NULL */
void ngx_mam_authz_cache_set(ngx_http_request_t *r, const char *user_id,
    long av, const char *status, ngx_mam_redis_handler_pt done, void *data);

/* caches the user's item (/auth/me) as of authz_version av, for the gate
 * of a NGX_MAM_ROUTE_USER_ITEM route to bring; no answer is awaited */
void ngx_mam_user_item_cache_set(ngx_http_request_t *r, const char *user_id,
    const char *av, ngx_str_t *item);

/* publishes the play epochs a SQL function's mam_play_revoke() answered
 * ([{asset_id, epoch}], playback.sql) to the edges; done(r, reply or
 * NULL, data) runs once Redis has them all (at once when there are none),
 * so the answer is never ahead of the edges' source.  ngx_mam_edge.c */
void ngx_mam_edge_revoke(ngx_http_request_t *r, json_t *epochs,
    ngx_mam_redis_handler_pt done, void *data);

ngx_uint_t ngx_mam_redis_up(ngx_mam_redis_t *rd);

/* ngx_mam_accounts.c: failed attempts at a secret (a login's password, a
 * review link's passphrase), counted before each is checked, each
 * counter with its own limit in one window; see there */
ngx_int_t ngx_mam_attempts_check(ngx_http_request_t *r, const char **keys,
    const char **limits, ngx_uint_t n, const char *window,
    ngx_mam_redis_handler_pt done, void *data);
ngx_int_t ngx_mam_attempts_refused(ngx_http_request_t *r, redisReply *reply,
    const char *what, const char *message);
void ngx_mam_attempts_forgive(ngx_http_request_t *r, const char *key);

/* checks "unix:/path" or "IP:port" at configuration time */
char *ngx_mam_redis_parse_addr(ngx_str_t *addr);


#endif /* _NGX_MAM_REDIS_H_INCLUDED_ */

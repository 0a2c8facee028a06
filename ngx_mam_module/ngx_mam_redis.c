/*
 * hiredis on nginx events.  The context's socket is wrapped in an nginx
 * connection (level-triggered: hiredis reads at most 16 KiB per call) whose
 * handlers call redisAsyncHandleRead/Write; hiredis owns and closes the fd.
 * Commands carry a small heap record so a request that goes away before
 * its reply is detached by a request cleanup instead of left dangling.
 *
 * With mam_redis_password_file, AUTH [user] password is the first command
 * of every connection, and the client counts as connected (commands are
 * sent, on_connected runs) only once Redis accepted it; a refused AUTH is
 * logged and the connection dropped and retried like an unreachable Redis.
 *
 * A request's command holds a timer (mam_redis_timeout): past it the
 * request goes on as if Redis were down, and the record waits in hiredis
 * for the late reply.  The timer also keeps a worker that shuts down
 * (reload) alive until the request has its answer.
 */

#include "ngx_mam_redis.h"


#define NGX_MAM_REDIS_BACKOFF_MIN   100
#define NGX_MAM_REDIS_BACKOFF_MAX   2000


struct ngx_mam_redis_s {
    redisAsyncContext           *ac;
    ngx_uint_t                   connected;
    ngx_uint_t                   exiting;
    char                        *path;       /* unix socket, or NULL */
    char                        *host;
    int                          port;
    ngx_str_t                    user;       /* ACL user, or empty */
    ngx_str_t                    password;   /* empty: no AUTH */
    ngx_event_t                  retry;
    ngx_msec_t                   backoff;
    ngx_log_t                   *log;
    ngx_mam_redis_connected_pt   on_connected;
};


typedef struct {
    ngx_mam_redis_t             *rd;
    ngx_http_request_t          *r;
    ngx_http_cleanup_t          *cln;
    ngx_mam_redis_handler_pt     handler;
    ngx_mam_redis_task_pt        task;       /* a command of no request */
    void                        *data;
    ngx_event_t                  ev;         /* failure without hiredis,
                                                or the reply's timeout */
    unsigned                     in_hiredis:1;
} ngx_mam_redis_cmd_t;


static void ngx_mam_redis_connect(ngx_mam_redis_t *rd);


/* the parts of "unix:/path" or "IPv4:port" / "[IPv6]:port" */
static ngx_int_t
ngx_mam_redis_split_addr(ngx_str_t *addr, ngx_str_t *path, ngx_str_t *host,
    ngx_int_t *port)
{
    u_char  *colon, *last;

    last = addr->data + addr->len;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        path->data = addr->data + 5;
        path->len = addr->len - 5;
        return (path->data[0] == '/') ? NGX_OK : NGX_ERROR;
    }

    colon = ngx_strlchr(addr->data, last, ']');
    colon = ngx_strlchr(colon ? colon : addr->data, last, ':');
    if (colon == NULL) {
        return NGX_ERROR;
    }

    host->data = addr->data;
    host->len = colon - addr->data;

    if (host->len > 2 && host->data[0] == '[' && host->data[host->len - 1]
        == ']')
    {
        host->data++;
        host->len -= 2;
#if (NGX_HAVE_INET6)
        {
        u_char  buf[16];

        if (ngx_inet6_addr(host->data, host->len, buf) != NGX_OK) {
            return NGX_ERROR;
        }
        }
#endif

    } else if (ngx_inet_addr(host->data, host->len) == INADDR_NONE) {
        return NGX_ERROR;
    }

    *port = ngx_atoi(colon + 1, last - colon - 1);

    return (*port >= 1 && *port <= 65535) ? NGX_OK : NGX_ERROR;
}


char *
ngx_mam_redis_parse_addr(ngx_str_t *addr)
{
    ngx_int_t  port;
    ngx_str_t  path, host;

    ngx_str_null(&path);

    if (ngx_mam_redis_split_addr(addr, &path, &host, &port) != NGX_OK) {
        return "must be \"unix:/absolute/path\" or \"IP:port\" "
               "(no host names: they would block a worker on DNS)";
    }

    return NGX_CONF_OK;
}


static void
ngx_mam_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_mam_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_mam_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_mam_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis frees the context and closes the fd right after this */
static void
ngx_mam_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_mam_redis_del_read(c);
    ngx_mam_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


static void
ngx_mam_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c = rev->data;
    ngx_mam_redis_t   *rd = c->data;

    redisAsyncHandleRead(rd->ac);
}


static void
ngx_mam_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c = wev->data;
    ngx_mam_redis_t   *rd = c->data;

    redisAsyncHandleWrite(rd->ac);
}


static void
ngx_mam_redis_schedule_retry(ngx_mam_redis_t *rd)
{
    rd->ac = NULL;
    rd->connected = 0;

    if (rd->exiting) {
        return;
    }

    rd->backoff = rd->backoff ? ngx_min(rd->backoff * 2,
                                        NGX_MAM_REDIS_BACKOFF_MAX)
                              : NGX_MAM_REDIS_BACKOFF_MIN;
    ngx_add_timer(&rd->retry, rd->backoff);
}


static void
ngx_mam_redis_ready(ngx_mam_redis_t *rd)
{
    ngx_log_error(NGX_LOG_INFO, rd->log, 0, "mam: redis connected");

    rd->connected = 1;
    rd->backoff = 0;

    if (rd->on_connected) {
        rd->on_connected(rd);
    }
}


static void
ngx_mam_redis_authed(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply       *reply = r;
    ngx_mam_redis_t  *rd = privdata;

    if (reply == NULL || rd->exiting || rd->ac != ac) {
        /* the connection went away: on_disconnect retries */
        return;
    }

    if (reply->type == REDIS_REPLY_STATUS) {
        ngx_mam_redis_ready(rd);
        return;
    }

    /* the error names no secret: WRONGPASS, NOAUTH, "no password is set" */
    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "mam: redis AUTH failed%s%V: %*s",
                  rd->user.len ? " as user " : "", &rd->user,
                  (size_t) (reply->type == REDIS_REPLY_ERROR ? reply->len : 0),
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "");

    /* on_disconnect (status REDIS_OK) schedules the retry */
    redisAsyncDisconnect(ac);
}


static void
ngx_mam_redis_on_connect(const redisAsyncContext *cac, int status)
{
    int                 argc;
    size_t              argvlen[3];
    const char         *argv[3];
    ngx_mam_redis_t    *rd = cac->data;
    redisAsyncContext  *ac = (redisAsyncContext *) cac;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "mam: redis connect failed: %s", cac->errstr);
        ngx_mam_redis_schedule_retry(rd);
        return;
    }

    if (rd->password.len == 0) {
        ngx_mam_redis_ready(rd);
        return;
    }

    argc = 0;
    argv[argc] = "AUTH";
    argvlen[argc++] = 4;

    if (rd->user.len) {
        argv[argc] = (const char *) rd->user.data;
        argvlen[argc++] = rd->user.len;
    }

    argv[argc] = (const char *) rd->password.data;
    argvlen[argc++] = rd->password.len;

    if (redisAsyncCommandArgv(ac, ngx_mam_redis_authed, rd, argc, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "mam: redis AUTH could not be sent");
        redisAsyncDisconnect(ac);
    }
}


static void
ngx_mam_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_mam_redis_t  *rd = ac->data;

    if (status != REDIS_OK && !rd->exiting) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "mam: redis connection lost: %s", ac->errstr);
    }

    ngx_mam_redis_schedule_retry(rd);
}


static void
ngx_mam_redis_retry_handler(ngx_event_t *ev)
{
    ngx_mam_redis_connect(ev->data);
}


static void
ngx_mam_redis_connect(ngx_mam_redis_t *rd)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    ac = rd->path ? redisAsyncConnectUnix(rd->path)
                  : redisAsyncConnect(rd->host, rd->port);

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0, "mam: redis connect failed: %s",
                      ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        ngx_mam_redis_schedule_retry(rd);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_mam_redis_schedule_retry(rd);
        return;
    }

    c->data = rd;
    c->read->handler = ngx_mam_redis_read_handler;
    c->write->handler = ngx_mam_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addRead = ngx_mam_redis_add_read;
    ac->ev.delRead = ngx_mam_redis_del_read;
    ac->ev.addWrite = ngx_mam_redis_add_write;
    ac->ev.delWrite = ngx_mam_redis_del_write;
    ac->ev.cleanup = ngx_mam_redis_cleanup;

    rd->ac = ac;

    /* hiredis waits for the first write event to see the connect finish */
    redisAsyncSetConnectCallback(ac, ngx_mam_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_mam_redis_on_disconnect);
}


ngx_mam_redis_t *
ngx_mam_redis_create(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf,
    ngx_mam_redis_connected_pt connected)
{
    ngx_int_t         port;
    ngx_str_t         path, host, *addr;
    ngx_mam_redis_t  *rd;

    addr = &mcf->redis_addr;

    rd = ngx_pcalloc(cycle->pool, sizeof(ngx_mam_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    ngx_str_null(&path);
    port = 0;

    if (ngx_mam_redis_split_addr(addr, &path, &host, &port) != NGX_OK) {
        return NULL;
    }

    if (path.len) {
        rd->path = ngx_pnalloc(cycle->pool, path.len + 1);
        if (rd->path == NULL) {
            return NULL;
        }
        (void) ngx_cpystrn((u_char *) rd->path, path.data, path.len + 1);

    } else {
        rd->host = ngx_pnalloc(cycle->pool, host.len + 1);
        if (rd->host == NULL) {
            return NULL;
        }
        (void) ngx_cpystrn((u_char *) rd->host, host.data, host.len + 1);
        rd->port = (int) port;
    }

    /* the configuration's copies: they live as long as the cycle */
    rd->user = mcf->redis_user;
    rd->password = mcf->redis_password;

    rd->log = cycle->log;
    rd->on_connected = connected;
    rd->retry.handler = ngx_mam_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.log = cycle->log;
    rd->retry.cancelable = 1;

    ngx_mam_redis_connect(rd);

    return rd;
}


void
ngx_mam_redis_destroy(ngx_mam_redis_t *rd)
{
    rd->exiting = 1;

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    if (rd->ac) {
        redisAsyncFree(rd->ac);
        rd->ac = NULL;
    }
}


redisAsyncContext *
ngx_mam_redis_context(ngx_mam_redis_t *rd)
{
    return rd->connected ? rd->ac : NULL;
}


/* the request's handler gets reply (NULL: none), once; the request is
 * detached from the command */
static void
ngx_mam_redis_answer(ngx_mam_redis_cmd_t *cmd, redisReply *reply)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cmd->r;
    cmd->r = NULL;
    cmd->cln->handler = NULL;
    c = r->connection;

    cmd->handler(r, reply, cmd->data);

    ngx_http_run_posted_requests(c);
}


static void
ngx_mam_redis_finish(ngx_mam_redis_cmd_t *cmd, redisReply *reply)
{
    if (cmd->ev.timer_set) {
        ngx_del_timer(&cmd->ev);
    }

    if (cmd->task) {
        if (!(cmd->rd && cmd->rd->exiting)) {
            cmd->task(reply, cmd->data);
        }
        ngx_free(cmd);
        return;
    }

    if (cmd->r != NULL && !(cmd->rd && cmd->rd->exiting)) {
        ngx_mam_redis_answer(cmd, reply);
    }

    ngx_free(cmd);
}


static void
ngx_mam_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void) ac;

    ngx_mam_redis_finish(privdata, reply);
}


static void
ngx_mam_redis_failure_handler(ngx_event_t *ev)
{
    ngx_mam_redis_finish(ev->data, NULL);
}


/* the reply is late: the request goes on without it */
static void
ngx_mam_redis_timeout_handler(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_WARN, ev->log, 0, "mam: redis command timed out");

    ngx_mam_redis_answer(ev->data, NULL);
}


static void
ngx_mam_redis_cmd_cleanup(void *data)
{
    ngx_mam_redis_cmd_t  *cmd = data;

    cmd->r = NULL;

    if (cmd->ev.timer_set) {
        ngx_del_timer(&cmd->ev);
    }

    /* with hiredis the record is freed when its reply (or NULL) comes */
    if (!cmd->in_hiredis) {
        if (cmd->ev.posted) {
            ngx_delete_posted_event(&cmd->ev);
        }
        ngx_free(cmd);
    }
}


ngx_int_t
ngx_mam_redis_command(ngx_http_request_t *r, ngx_mam_redis_t *rd,
    ngx_mam_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_cleanup_t   *cln;
    ngx_mam_main_conf_t  *mcf;
    ngx_mam_redis_cmd_t  *cmd;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cmd = ngx_calloc(sizeof(ngx_mam_redis_cmd_t), r->connection->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->rd = rd;
    cmd->r = r;
    cmd->cln = cln;
    cmd->handler = handler;
    cmd->data = data;
    cmd->ev.handler = ngx_mam_redis_failure_handler;
    cmd->ev.data = cmd;
    cmd->ev.log = r->connection->log;

    cln->handler = ngx_mam_redis_cmd_cleanup;
    cln->data = cmd;

    if (rd != NULL && rd->connected
        && redisAsyncCommandArgv(rd->ac, ngx_mam_redis_reply, cmd, argc,
                                 argv, argvlen)
           == REDIS_OK)
    {
        cmd->in_hiredis = 1;
        cmd->ev.handler = ngx_mam_redis_timeout_handler;
        mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
        ngx_add_timer(&cmd->ev, mcf->redis_timeout);
        return NGX_OK;
    }

    ngx_post_event(&cmd->ev, &ngx_posted_events);

    return NGX_OK;
}


/* the same for the module's own work: handler(reply or NULL, data), always
 * from the event loop, never from inside this call */
ngx_int_t
ngx_mam_redis_task_command(ngx_mam_redis_t *rd, ngx_mam_redis_task_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    ngx_mam_redis_cmd_t  *cmd;

    cmd = ngx_calloc(sizeof(ngx_mam_redis_cmd_t), ngx_cycle->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->rd = rd;
    cmd->task = handler;
    cmd->data = data;
    cmd->ev.handler = ngx_mam_redis_failure_handler;
    cmd->ev.data = cmd;
    cmd->ev.log = ngx_cycle->log;

    if (rd != NULL && rd->connected
        && redisAsyncCommandArgv(rd->ac, ngx_mam_redis_reply, cmd, argc,
                                 argv, argvlen)
           == REDIS_OK)
    {
        cmd->in_hiredis = 1;
        return NGX_OK;
    }

    ngx_post_event(&cmd->ev, &ngx_posted_events);

    return NGX_OK;
}


/* for the metrics: 1 while connected */
ngx_uint_t
ngx_mam_redis_up(ngx_mam_redis_t *rd)
{
    return rd != NULL && rd->connected;
}

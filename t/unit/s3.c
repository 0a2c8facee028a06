/*
 * S3 deadlines (mam_s3.h): a peer that accepts and never answers fails a
 * call within its deadline, with a body or without.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "helpers.h"
#include "mam_s3.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(void)
{
    int                 fd, rc, port = 0;
    char                endpoint[64], body[256];
    double              t0, took;
    FILE               *f;
    mam_s3_t            s3;
    mam_s3_req_t        req;

    /* a listener that never accepts: the kernel completes the handshake */
    fd = listen_loopback(&port);
    ok(fd >= 0, "a stalled peer listens");

    memset(&s3, 0, sizeof(s3));
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
    ok(mam_s3_set_endpoint(&s3, endpoint) == 0, "endpoint %s", endpoint);
    s3.path_style = 1;
    strcpy(s3.region, "us-east-1");
    strcpy(s3.access_key, "k");
    strcpy(s3.secret_key, "s");
    s3.timeout_ms = 700;

    /* a call without a body: the total deadline */
    memset(&req, 0, sizeof(req));
    req.method = "HEAD";
    req.bucket = "b";
    req.key = "k";
    req.body = body;
    req.body_size = sizeof(body);
    t0 = now();
    rc = mam_s3_perform(&s3, &req);
    took = now() - t0;
    ok(rc != 0 && req.status == 0, "HEAD to a stalled peer fails (%s)",
       req.error);
    ok(took >= 0.6 && took < 2.0, "within its deadline (%.2f s)", took);

    /* a PUT with a small body: timeout_ms plus its size at the low-speed
     * rate (here: under a second more) */
    f = tmpfile();
    fputs("hello", f);
    rewind(f);
    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.bucket = "b";
    req.key = "k";
    req.upload = f;
    req.upload_size = 5;
    req.body = body;
    req.body_size = sizeof(body);
    t0 = now();
    rc = mam_s3_perform(&s3, &req);
    took = now() - t0;
    ok(rc != 0 && req.status == 0, "PUT to a stalled peer fails (%s)",
       req.error);
    ok(took >= 0.6 && took < 2.5, "within its deadline (%.2f s)", took);
    fclose(f);

    /* the low-speed limit alone ends a stalled call with a long total */
    s3.timeout_ms = 600000;
    s3.low_speed_limit = 1024;
    s3.low_speed_time = 1;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.bucket = "b";
    req.key = "k";
    req.body = body;
    req.body_size = sizeof(body);
    t0 = now();
    rc = mam_s3_perform(&s3, &req);
    took = now() - t0;
    ok(rc != 0 && req.status == 0, "GET to a stalled peer fails (%s)",
       req.error);
    ok(took < 3.0, "by the low-speed limit (%.2f s)", took);

    close(fd);
    return done_testing();
}

/*
 * One attempt of one delivery: POST the event's body to the webhook's URL
 * with libcurl, signed as the preview callbacks are (libmam's
 * mam_callback_sign: X-Mam-Timestamp, X-Mam-Signature: sha256=...).
 *
 * Where it may go (issue 22, SSRF): the host is resolved here, and every
 * address it resolves to must be public (mam_net.c) or inside
 * allow_targets, else the delivery fails for good without a connection.
 * libcurl is then pinned to the checked address (CURLOPT_RESOLVE), and the
 * socket callback checks the address once more as the connection opens,
 * so a name that resolves elsewhere the second time (DNS rebinding), an
 * address literal, or anything libcurl would connect to on its own, is
 * held to the same rule.  No redirect is followed, no proxy of the
 * environment is used, the whole attempt is bounded by timeout and the
 * answer's body is read up to 64 KiB and thrown away.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wh.h"
#include "mam_contract.h"

#define WH_BODY_MAX  (64 * 1024)        /* of an answer, read and dropped */

typedef struct {
    const wh_config_t  *cf;
    size_t              received;
    char                refused[200];
} wh_xfer_t;


static size_t
wh_discard(char *p, size_t size, size_t n, void *data)
{
    wh_xfer_t  *x = data;

    (void) p;
    x->received += size * n;

    /* the status is in; a longer answer is cut (CURLE_WRITE_ERROR) */
    return x->received > WH_BODY_MAX ? 0 : size * n;
}


static int
wh_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
    (void) data;
    (void) dt;
    (void) dn;
    (void) ut;
    (void) un;

    return wh_stop ? 1 : 0;
}


static void
wh_addr_text(const struct sockaddr *sa, socklen_t len, char *out,
    size_t size)
{
    if (getnameinfo(sa, len, out, (socklen_t) size, NULL, 0, NI_NUMERICHOST)
        != 0)
    {
        snprintf(out, size, "?");
    }
}


/* the last word before a connection: the address libcurl opens */
static curl_socket_t
wh_open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    char         text[INET6_ADDRSTRLEN + 1];
    wh_xfer_t   *x = data;
    const char  *cls;

    if (purpose != CURLSOCKTYPE_IPCXN) {
        return CURL_SOCKET_BAD;
    }

    cls = mam_addr_refused(&a->addr, x->cf->allow, x->cf->nallow);
    if (cls) {
        wh_addr_text(&a->addr, a->addrlen, text, sizeof(text));
        snprintf(x->refused, sizeof(x->refused), "refused: %s is a %s "
                 "address (allow_targets)", text, cls);
        return CURL_SOCKET_BAD;
    }

    return socket(a->family, a->socktype, a->protocol);
}


/*
 * host resolved and checked: 0 with pin ("HOST:PORT:ADDRESS" for
 * CURLOPT_RESOLVE, "" for an address literal), 1 refused, -1 no address
 * (r->error says why)
 */
static int
wh_resolve(const wh_config_t *cf, const char *host, const char *port,
    char *pin, size_t size, wh_result_t *r)
{
    int               rc, literal;
    char              name[300], text[INET6_ADDRSTRLEN + 1];
    size_t            len;
    const char       *cls;
    struct addrinfo   hints, *res, *ai;

    /* an IPv6 literal comes in brackets */
    len = strlen(host);
    literal = len > 2 && host[0] == '[' && host[len - 1] == ']';
    if (len >= sizeof(name)) {
        snprintf(r->error, sizeof(r->error), "host name too long");
        return -1;
    }
    snprintf(name, sizeof(name), "%.*s", (int) (literal ? len - 2 : len),
             literal ? host + 1 : host);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0) {
        snprintf(r->error, sizeof(r->error), "cannot resolve %s: %s", name,
                 gai_strerror(rc));
        return -1;
    }

    /* one inside address among them refuses the name: which one libcurl
     * would take is not ours to guess */
    for (ai = res; ai; ai = ai->ai_next) {
        cls = mam_addr_refused(ai->ai_addr, cf->allow, cf->nallow);
        if (cls) {
            wh_addr_text(ai->ai_addr, ai->ai_addrlen, text, sizeof(text));
            snprintf(r->error, sizeof(r->error), "refused: %s resolves to "
                     "%s, a %s address (allow_targets)", name, text, cls);
            freeaddrinfo(res);
            r->refused = 1;
            return 1;
        }
    }

    wh_addr_text(res->ai_addr, res->ai_addrlen, text, sizeof(text));
    freeaddrinfo(res);

    literal = literal || strcmp(text, name) == 0;
    if (literal) {
        pin[0] = '\0';
    } else {
        snprintf(pin, size, "%s:%s:%s%s%s", name, port,
                 strchr(text, ':') ? "[" : "", text,
                 strchr(text, ':') ? "]" : "");
    }
    return 0;
}


/* the URL's host and port (the scheme's when none): 0, or -1 */
static int
wh_url_parts(const char *url, char *host, size_t hsize, char *port,
    size_t psize)
{
    int    rc = -1;
    char  *h = NULL, *p = NULL, *s = NULL;
    CURLU *u;

    u = curl_url();
    if (u == NULL) {
        return -1;
    }

    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK
        && (strcmp(s, "http") == 0 || strcmp(s, "https") == 0)
        && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT)
           == CURLUE_OK
        && strlen(h) < hsize && strlen(p) < psize)
    {
        strcpy(host, h);
        strcpy(port, p);
        rc = 0;
    }

    curl_free(s);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}


static struct curl_slist *
wh_headers(const wh_delivery_t *d)
{
    char                 line[512];
    struct curl_slist   *h = NULL, *n;
    mam_callback_sig_t   sig;

    if (mam_callback_sign(d->secret, strlen(d->secret), (long) time(NULL),
                          d->body, strlen(d->body), &sig)
        != 0)
    {
        return NULL;
    }

#define WH_HEADER(...)                                                        \
    do {                                                                      \
        snprintf(line, sizeof(line), __VA_ARGS__);                            \
        n = curl_slist_append(h, line);                                       \
        if (n == NULL) {                                                      \
            curl_slist_free_all(h);                                           \
            return NULL;                                                      \
        }                                                                     \
        h = n;                                                                \
    } while (0)

    WH_HEADER("Content-Type: application/json");
    WH_HEADER("User-Agent: mam-webhookd");
    WH_HEADER("Expect:");
    WH_HEADER("X-Mam-Event: %s", d->event);
    WH_HEADER("X-Mam-Event-Id: %s", d->event_id);
    WH_HEADER("X-Mam-Delivery: %lld", d->id);
    WH_HEADER(MAM_CALLBACK_HEADER_TS ": %s", sig.ts);
    WH_HEADER(MAM_CALLBACK_HEADER_SIG ": %s", sig.sig);

#undef WH_HEADER

    return h;
}


static void
wh_setopts(CURL *c, const wh_config_t *cf, const wh_delivery_t *d,
    struct curl_slist *headers, struct curl_slist *pin, wh_xfer_t *x)
{
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long) cf->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long) cf->connect_timeout);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(d->body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wh_discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, wh_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, wh_progress);
    if (pin) {
        curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
    }
}


int
wh_deliver(const wh_config_t *cf, const wh_delivery_t *d, wh_result_t *r)
{
    int                 rc;
    CURL               *c;
    CURLcode            cc;
    char                host[300], port[16], pin[400];
    wh_xfer_t           x;
    struct curl_slist  *headers, *pins = NULL;

    memset(r, 0, sizeof(*r));

    if (wh_url_parts(d->url, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(r->error, sizeof(r->error), "refused: not an http or "
                 "https URL");
        r->refused = 1;
        return 0;
    }

    rc = wh_resolve(cf, host, port, pin, sizeof(pin), r);
    if (rc != 0) {
        return 0;
    }

    headers = wh_headers(d);
    if (pin[0]) {
        pins = curl_slist_append(NULL, pin);
    }
    c = curl_easy_init();
    if (headers == NULL || (pin[0] && pins == NULL) || c == NULL) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        curl_slist_free_all(headers);
        curl_slist_free_all(pins);
        curl_easy_cleanup(c);
        return 0;
    }

    memset(&x, 0, sizeof(x));
    x.cf = cf;
    wh_setopts(c, cf, d, headers, pins, &x);

    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);

    curl_slist_free_all(headers);
    curl_slist_free_all(pins);
    curl_easy_cleanup(c);

    if (cc == CURLE_ABORTED_BY_CALLBACK && wh_stop) {
        return -1;
    }

    if (x.refused[0]) {
        r->refused = 1;
        r->status = 0;
        snprintf(r->error, sizeof(r->error), "%s", x.refused);

    } else if (r->status == 0) {
        snprintf(r->error, sizeof(r->error), "no answer: %s",
                 curl_easy_strerror(cc));

    } else if (r->status < 200 || r->status > 299) {
        snprintf(r->error, sizeof(r->error), "HTTP %ld", r->status);
    }

    return 0;
}

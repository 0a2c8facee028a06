/*
 * Address classes and CIDR allow lists for webhookd's targets (mam_net.h).
 * The tables follow the IANA special-purpose registries; whatever is not
 * global unicast in IPv6 (2000::/3) is refused as reserved, so a range
 * assigned later is refused until it is listed here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mam_net.h"


typedef struct {
    unsigned char  addr[16];
    int            bits;
    const char    *cls;
} mam_net_range_t;


/* IPv4, the first matching row wins */
static const mam_net_range_t  mam_net_v4[] = {
    { { 0, 0, 0, 0 }, 8, "unspecified" },        /* "this network" */
    { { 10, 0, 0, 0 }, 8, "private" },
    { { 100, 64, 0, 0 }, 10, "private" },        /* carrier-grade NAT */
    { { 127, 0, 0, 0 }, 8, "loopback" },
    { { 169, 254, 0, 0 }, 16, "link-local" },
    { { 172, 16, 0, 0 }, 12, "private" },
    { { 192, 0, 0, 0 }, 24, "reserved" },        /* protocol assignments */
    { { 192, 0, 2, 0 }, 24, "reserved" },        /* documentation */
    { { 192, 88, 99, 0 }, 24, "reserved" },      /* 6to4 relay anycast */
    { { 192, 168, 0, 0 }, 16, "private" },
    { { 198, 18, 0, 0 }, 15, "reserved" },       /* benchmarking */
    { { 198, 51, 100, 0 }, 24, "reserved" },     /* documentation */
    { { 203, 0, 113, 0 }, 24, "reserved" },      /* documentation */
    { { 224, 0, 0, 0 }, 4, "multicast" },
    { { 240, 0, 0, 0 }, 4, "reserved" },         /* and the broadcast */
    { { 0 }, 0, NULL }
};

/* IPv6 outside 2000::/3, and the special ranges inside it */
static const mam_net_range_t  mam_net_v6[] = {
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32, "reserved" },   /* documentation */
    { { 0x20, 0x01, 0, 0 }, 23, "reserved" },         /* Teredo, ORCHID.. */
    { { 0x3f, 0xff }, 20, "reserved" },               /* documentation */
    { { 0xfc }, 7, "private" },                       /* unique local */
    { { 0xfe, 0x80 }, 10, "link-local" },
    { { 0xfe, 0xc0 }, 10, "private" },                /* site-local */
    { { 0xff }, 8, "multicast" },
    { { 0 }, 0, NULL }
};


static int
mam_net_prefix(const unsigned char *a, const unsigned char *p, int bits)
{
    int  n = bits / 8, rest = bits % 8;

    if (memcmp(a, p, (size_t) n) != 0) {
        return 0;
    }

    return rest == 0
           || ((a[n] ^ p[n]) & (unsigned char) (0xff << (8 - rest))) == 0;
}


static const char *
mam_net_v4_class(const unsigned char *a)
{
    const mam_net_range_t  *r;

    for (r = mam_net_v4; r->cls; r++) {
        if (mam_net_prefix(a, r->addr, r->bits)) {
            return r->cls;
        }
    }

    return NULL;
}


/* the IPv4 address an IPv6 one carries (v4-mapped, NAT64's well-known
 * prefix, 6to4), or NULL */
static const unsigned char *
mam_net_v4_inside(const unsigned char *a)
{
    static const unsigned char  mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               0xff, 0xff };
    static const unsigned char  nat64[12] = { 0, 0x64, 0xff, 0x9b };

    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        return a + 12;
    }

    if (a[0] == 0x20 && a[1] == 0x02) {
        return a + 2;
    }

    return NULL;
}


static const char *
mam_net_v6_class(const unsigned char *a)
{
    int                     i;
    const unsigned char    *v4;
    const mam_net_range_t  *r;

    v4 = mam_net_v4_inside(a);
    if (v4) {
        return mam_net_v4_class(v4);
    }

    for (i = 0; i < 15 && a[i] == 0; i++) {
        /* void */
    }

    if (i == 15 && a[15] <= 1) {
        return a[15] ? "loopback" : "unspecified";
    }

    for (r = mam_net_v6; r->cls; r++) {
        if (mam_net_prefix(a, r->addr, r->bits)) {
            return r->cls;
        }
    }

    /* anything outside global unicast 2000::/3 (IPv4-compatible ::/96,
     * discard 100::/64, unassigned space) */
    return (a[0] & 0xe0) == 0x20 ? NULL : "reserved";
}


const char *
mam_addr_class(const struct sockaddr *sa)
{
    if (sa == NULL) {
        return "reserved";
    }

    if (sa->sa_family == AF_INET) {
        return mam_net_v4_class((const unsigned char *)
                                &((const struct sockaddr_in *) sa)->sin_addr);
    }

    if (sa->sa_family == AF_INET6) {
        return mam_net_v6_class((const unsigned char *)
                              &((const struct sockaddr_in6 *) sa)->sin6_addr);
    }

    return "reserved";
}


int
mam_cidr_parse(const char *s, size_t len, mam_cidr_t *out)
{
    int          bits = -1, max;
    char         buf[64];
    const char  *slash, *p;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    slash = strchr(buf, '/');
    if (slash) {
        if (slash[1] == '\0' || strlen(slash + 1) > 3) {
            return -1;
        }
        bits = 0;
        for (p = slash + 1; *p; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
            bits = bits * 10 + (*p - '0');
        }
        buf[slash - buf] = '\0';
    }

    memset(out, 0, sizeof(*out));

    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }

    if (bits > max) {
        return -1;
    }
    out->bits = bits < 0 ? max : bits;

    return 0;
}


int
mam_cidr_match(const mam_cidr_t *c, const struct sockaddr *sa)
{
    const unsigned char  *a;
    static const unsigned char  mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               0xff, 0xff };

    if (sa->sa_family == AF_INET) {
        a = (const unsigned char *) &((const struct sockaddr_in *) sa)->sin_addr;
        return c->family == AF_INET && mam_net_prefix(a, c->addr, c->bits);
    }

    if (sa->sa_family != AF_INET6) {
        return 0;
    }

    a = (const unsigned char *) &((const struct sockaddr_in6 *) sa)->sin6_addr;

    if (c->family == AF_INET6) {
        return mam_net_prefix(a, c->addr, c->bits);
    }

    return memcmp(a, mapped, 12) == 0
           && mam_net_prefix(a + 12, c->addr, c->bits);
}


const char *
mam_addr_refused(const struct sockaddr *sa, const mam_cidr_t *allow,
    size_t n)
{
    size_t       i;
    const char  *cls;

    cls = mam_addr_class(sa);
    if (cls == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (mam_cidr_match(&allow[i], sa)) {
            return NULL;
        }
    }

    return cls;
}

/* libmam/mam_net: the classes of webhookd's target addresses and the
 * CIDR allow lists (issue 22). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mam_net.h"
#include "tap.h"

/* an address literal as a sockaddr */
static const struct sockaddr *
sa(const char *text)
{
    static struct sockaddr_storage  ss;
    struct sockaddr_in             *s4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6            *s6 = (struct sockaddr_in6 *) &ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
    }
    return (struct sockaddr *) &ss;
}

static int
is(const char *addr, const char *want)
{
    const char  *got = mam_addr_class(sa(addr));

    if (want == NULL || got == NULL) {
        return want == got;
    }
    return strcmp(want, got) == 0;
}

static const struct {
    const char  *addr;
    const char  *cls;
} cases[] = {
    /* IPv4 */
    { "0.0.0.0", "unspecified" },
    { "0.1.2.3", "unspecified" },
    { "127.0.0.1", "loopback" },
    { "127.255.255.254", "loopback" },
    { "10.0.0.1", "private" },
    { "172.16.0.1", "private" },
    { "172.31.255.255", "private" },
    { "172.32.0.1", NULL },
    { "172.15.255.255", NULL },
    { "192.168.1.1", "private" },
    { "100.64.0.1", "private" },
    { "100.127.255.255", "private" },
    { "100.128.0.1", NULL },
    { "169.254.169.254", "link-local" },
    { "224.0.0.1", "multicast" },
    { "239.255.255.250", "multicast" },
    { "240.0.0.1", "reserved" },
    { "255.255.255.255", "reserved" },
    { "192.0.2.10", "reserved" },
    { "198.18.0.1", "reserved" },
    { "203.0.113.5", "reserved" },
    { "8.8.8.8", NULL },
    { "1.1.1.1", NULL },
    { "93.184.216.34", NULL },
    /* IPv6 */
    { "::", "unspecified" },
    { "::1", "loopback" },
    { "::ffff:127.0.0.1", "loopback" },
    { "::ffff:10.1.2.3", "private" },
    { "::ffff:169.254.169.254", "link-local" },
    { "::ffff:8.8.8.8", NULL },
    { "64:ff9b::7f00:1", "loopback" },
    { "64:ff9b::808:808", NULL },
    { "2002:7f00:1::1", "loopback" },
    { "2002:c0a8:101::1", "private" },
    { "::127.0.0.1", "reserved" },
    { "fe80::1", "link-local" },
    { "febf::1", "link-local" },
    { "fec0::1", "private" },
    { "fc00::1", "private" },
    { "fd12:3456::1", "private" },
    { "ff02::1", "multicast" },
    { "2001:db8::1", "reserved" },
    { "2001::1", "reserved" },
    { "100::1", "reserved" },
    { "4000::1", "reserved" },
    { "2606:4700:4700::1111", NULL },
    { "2a00:1450:4001:80b::200e", NULL },
};

int
main(void)
{
    size_t      i;
    mam_cidr_t  c, allow[2];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(is(cases[i].addr, cases[i].cls), "%s is %s", cases[i].addr,
           cases[i].cls ? cases[i].cls : "public");
    }

    ok(mam_cidr_parse("127.0.0.0/8", 11, &c) == 0 && c.family == AF_INET
       && c.bits == 8, "127.0.0.0/8 parses");
    ok(mam_cidr_match(&c, sa("127.0.0.1")), "127.0.0.1 is inside it");
    ok(mam_cidr_match(&c, sa("::ffff:127.3.2.1")),
       "so is the v4-mapped ::ffff:127.3.2.1");
    ok(!mam_cidr_match(&c, sa("128.0.0.1")), "128.0.0.1 is not");
    ok(!mam_cidr_match(&c, sa("::1")), "::1 is not");

    ok(mam_cidr_parse("::1", 3, &c) == 0 && c.family == AF_INET6
       && c.bits == 128, "::1 parses as a host");
    ok(mam_cidr_match(&c, sa("::1")) && !mam_cidr_match(&c, sa("::2")),
       "and matches only itself");
    ok(mam_cidr_parse("10.0.0.0/12", 11, &c) == 0
       && mam_cidr_match(&c, sa("10.15.255.255"))
       && !mam_cidr_match(&c, sa("10.16.0.0")), "a /12 boundary");
    ok(mam_cidr_parse("fd00::/8", 8, &c) == 0
       && mam_cidr_match(&c, sa("fd12::1"))
       && !mam_cidr_match(&c, sa("fc00::1")), "an IPv6 /8");
    ok(mam_cidr_parse("0.0.0.0/0", 9, &c) == 0
       && mam_cidr_match(&c, sa("10.0.0.1")), "/0 holds every IPv4 address");

    ok(mam_cidr_parse("10.0.0.0/33", 11, &c) != 0, "/33 refused");
    ok(mam_cidr_parse("::/129", 6, &c) != 0, "/129 refused");
    ok(mam_cidr_parse("10.0.0.0/", 9, &c) != 0, "an empty prefix refused");
    ok(mam_cidr_parse("10.0.0.0/8x", 11, &c) != 0, "a bad prefix refused");
    ok(mam_cidr_parse("localhost", 9, &c) != 0, "a name refused");
    ok(mam_cidr_parse("", 0, &c) != 0, "nothing refused");
    ok(mam_cidr_parse("10.0.0.1/8", 8, &c) == 0 && c.bits == 32,
       "only len characters are read");

    mam_cidr_parse("127.0.0.0/8", 11, &allow[0]);
    mam_cidr_parse("fd00::/8", 8, &allow[1]);
    ok(mam_addr_refused(sa("127.0.0.1"), allow, 2) == NULL,
       "an allowed loopback address passes");
    ok(mam_addr_refused(sa("127.0.0.1"), allow, 0) != NULL
       && strcmp(mam_addr_refused(sa("127.0.0.1"), allow, 0), "loopback")
          == 0, "without the list it is refused as loopback");
    ok(mam_addr_refused(sa("10.0.0.1"), allow, 2) != NULL,
       "what the list does not hold stays refused");
    ok(mam_addr_refused(sa("8.8.8.8"), NULL, 0) == NULL,
       "a public address passes without a list");

    return done_testing();
}

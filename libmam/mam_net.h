/*
 * Where webhookd may connect (issue 22): the class of an address that is
 * not on the public internet (loopback, private, link-local, ...), and
 * CIDR allow lists an administrator sets to let some of them through.
 * The check runs on every address a host name resolves to and again on
 * the address a connection is opened to, so neither a name that resolves
 * to an inside address nor a rebinding between the two reaches one.
 */
#ifndef MAM_NET_H
#define MAM_NET_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct {
    int            family;          /* AF_INET or AF_INET6 */
    unsigned char  addr[16];        /* 4 bytes for AF_INET */
    int            bits;            /* the prefix length */
} mam_cidr_t;

#define MAM_NET_ALLOW_MAX  16       /* CIDRs in an allow list */

/*
 * NULL for an address of the public internet; otherwise why it is not
 * one: "unspecified", "loopback", "private", "link-local", "multicast",
 * "reserved" (documentation, benchmarking, broadcast, the future, and
 * tunnels whose far end cannot be told).  An IPv4 address inside IPv6
 * (v4-mapped, NAT64's 64:ff9b::/96, 6to4) is the class of the IPv4
 * address.  Neither AF_INET nor AF_INET6: "reserved".
 */
const char *mam_addr_class(const struct sockaddr *sa);

/* "ADDR/BITS" or "ADDR" (a host), IPv4 or IPv6: 0, or -1 */
int mam_cidr_parse(const char *s, size_t len, mam_cidr_t *out);

/* 1 when sa is inside c (a v4-mapped IPv6 address matches IPv4 CIDRs) */
int mam_cidr_match(const mam_cidr_t *c, const struct sockaddr *sa);

/*
 * NULL when webhookd may connect to sa: a public address, or one inside
 * a CIDR of allow (n of them); otherwise the class that refuses it
 */
const char *mam_addr_refused(const struct sockaddr *sa,
    const mam_cidr_t *allow, size_t n);

#endif

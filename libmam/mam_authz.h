/*
 * A process's memo of users' authz_version and status, as the gate reads
 * them from Redis (mam:authz:{id}) on every authenticated request.
 *
 * It is only as good as what tells it of changes: every write of
 * mam:authz:{id} also publishes the new value on mam:authz (the authz
 * cache script), and the owner of the memo feeds what its subscription
 * hears into mam_authz_memo_changed().  The memo answers only while that
 * subscription is confirmed (mam_authz_memo_listen(m, 1)); losing it
 * empties the memo and turns it off, because changes published meanwhile
 * are lost to it.
 *
 * A value read from Redis is kept only if nothing was heard between the
 * read being asked and answered (the generation, mam_authz_memo_gen()):
 * the subscription and the command connection are two sockets, and a
 * change published between Redis answering the read and the owner seeing
 * the answer may have been handled first, for an entry that did not exist
 * yet.  Each entry also lapses after MAM_AUTHZ_MEMO_TTL_MS, which bounds
 * what a change made past Redis (straight in PostgreSQL) is kept by.
 *
 * Hearing is not enough for "at once": Redis may write a change's answer
 * to the process that made it before it writes the published copy to the
 * others' subscriptions, so a request that follows the answer can reach
 * another worker first.  The processes of one host therefore also share
 * change counters (mam_authz_memo_share(), one per slot, in shared
 * memory): the process that made a change bumps the user's counter
 * (mam_authz_changes_bump()) before its answer goes out, and an entry
 * read before that bump is not used after it.  Other hosts still learn of
 * the change from their subscriptions, within a message's delay.
 *
 * One slot per hash of the user id (a colliding user only evicts).  Not
 * thread-safe: one memo per nginx worker, in its event loop; the shared
 * counters are read and bumped atomically.
 */

#ifndef MAM_AUTHZ_H
#define MAM_AUTHZ_H

#include <stddef.h>

#include "mam_util.h"

#define MAM_AUTHZ_MEMO_SLOTS   1024
#define MAM_AUTHZ_MEMO_TTL_MS  10000

typedef struct {
    char           user[MAM_UUID_LEN];
    unsigned char  used;
    unsigned char  active;          /* status is "active" */
    long           av;              /* authz_version */
    long long      until;           /* ms: the entry lapses then */
    unsigned long  seen;            /* its slot's shared counter then */
} mam_authz_memo_slot_t;

typedef struct {
    int                     on;     /* the subscription is confirmed */
    unsigned long           gen;    /* bumped by every change heard */
    unsigned long           hits;
    unsigned long           misses;
    unsigned long          *changes;  /* shared counters, or NULL */
    mam_authz_memo_slot_t   slot[MAM_AUTHZ_MEMO_SLOTS];
} mam_authz_memo_t;

/* an empty memo, off until its subscription is confirmed */
void mam_authz_memo_init(mam_authz_memo_t *m);

/* the subscription is confirmed (on = 1) or lost (on = 0): either way
 * the memo starts empty and reads asked before are not kept */
void mam_authz_memo_listen(mam_authz_memo_t *m, int on);

/* a change of user's authz was heard: forgotten (NULL: a change of
 * someone, everyone forgotten), and reads asked before are not kept */
void mam_authz_memo_changed(mam_authz_memo_t *m, const char *user);

/* 1 and *av, *active for a remembered user (now in ms); 0 otherwise */
int mam_authz_memo_get(mam_authz_memo_t *m, const char *user,
    long long now, long *av, int *active);

/* the host's change counters (MAM_AUTHZ_MEMO_SLOTS of them, zeroed, in
 * memory every process of the host maps) for m to heed */
void mam_authz_memo_share(mam_authz_memo_t *m, unsigned long *changes);

/* a change of user's authz made here: every memo sharing changes stops
 * using what it had read of user */
void mam_authz_changes_bump(unsigned long *changes, const char *user);

/* the generation of user's entry, to pass to mam_authz_memo_put() when a
 * read of user is asked */
unsigned long mam_authz_memo_gen(const mam_authz_memo_t *m,
    const char *user);

/* remembers what a read asked at generation gen answered, unless the
 * memo is off, heard anything since, or user's counter moved */
void mam_authz_memo_put(mam_authz_memo_t *m, const char *user, long av,
    int active, unsigned long gen, long long now);

#endif

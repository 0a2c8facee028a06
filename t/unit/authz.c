/* The gate's memo of users' authz (libmam/mam_authz.c): answers only while
 * its subscription is confirmed, forgets what it hears of, keeps no read
 * asked before a change, and lapses; workers of one host sharing change
 * counters stop using a user's entry as soon as one of them bumps it. */
#include <string.h>

#include "mam_authz.h"
#include "tap.h"

#define U1   "11111111-2222-4333-8444-555555555555"
#define U2   "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define NOW  1700000000000LL

static mam_authz_memo_t  memo;
static mam_authz_memo_t  worker_a, worker_b;
static unsigned long     changes[MAM_AUTHZ_MEMO_SLOTS];

/* a user whose id hashes to U1's slot, found by trying */
static void
colliding(char *out)
{
    mam_authz_memo_t  probe;
    unsigned          i;
    long              av;
    int               active;

    for (i = 0; i < 1000000; i++) {
        snprintf(out, MAM_UUID_LEN + 1, "%08x-0000-4000-8000-000000000000",
                 i);
        mam_authz_memo_init(&probe);
        mam_authz_memo_listen(&probe, 1);
        mam_authz_memo_put(&probe, U1, 1, 1, mam_authz_memo_gen(&probe, U1),
                           NOW);
        mam_authz_memo_put(&probe, out, 2, 1, mam_authz_memo_gen(&probe, out),
                           NOW);
        if (!mam_authz_memo_get(&probe, U1, NOW, &av, &active)) {
            return;
        }
    }
    out[0] = '\0';
}

int
main(void)
{
    long           av = 0;
    int            active = 0;
    unsigned long  gen;
    char           other[MAM_UUID_LEN + 1];

    mam_authz_memo_init(&memo);

    mam_authz_memo_put(&memo, U1, 3, 1, mam_authz_memo_gen(&memo, U1), NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "off until the subscription is confirmed: nothing kept");

    mam_authz_memo_listen(&memo, 1);
    mam_authz_memo_put(&memo, U1, 3, 1, mam_authz_memo_gen(&memo, U1), NOW);
    ok(mam_authz_memo_get(&memo, U1, NOW + 1, &av, &active)
       && av == 3 && active == 1, "a read kept is answered");
    ok(!mam_authz_memo_get(&memo, U2, NOW + 1, &av, &active),
       "another user is not");

    mam_authz_memo_put(&memo, U2, 7, 0, mam_authz_memo_gen(&memo, U2), NOW);
    ok(mam_authz_memo_get(&memo, U2, NOW, &av, &active)
       && av == 7 && active == 0, "an inactive user is kept as inactive");

    mam_authz_memo_changed(&memo, U1);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "a change heard forgets the user");
    ok(mam_authz_memo_get(&memo, U2, NOW, &av, &active) && av == 7,
       "and no one else");

    gen = mam_authz_memo_gen(&memo, U1);
    mam_authz_memo_changed(&memo, U2);
    mam_authz_memo_put(&memo, U1, 3, 1, gen, NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "a read asked before any change heard is not kept");

    mam_authz_memo_put(&memo, U1, 4, 1, mam_authz_memo_gen(&memo, U1), NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW + MAM_AUTHZ_MEMO_TTL_MS, &av,
                           &active), "an entry lapses after its time");
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "and stays gone");

    mam_authz_memo_put(&memo, U1, 4, 1, mam_authz_memo_gen(&memo, U1), NOW);
    gen = mam_authz_memo_gen(&memo, U1);
    mam_authz_memo_listen(&memo, 0);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "losing the subscription empties the memo");
    mam_authz_memo_put(&memo, U1, 4, 1, mam_authz_memo_gen(&memo, U1), NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "and keeps nothing while it is lost");

    mam_authz_memo_listen(&memo, 1);
    mam_authz_memo_put(&memo, U1, 4, 1, gen, NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "a read asked before the subscription came back is not kept");
    mam_authz_memo_put(&memo, U1, 5, 1, mam_authz_memo_gen(&memo, U1), NOW);
    ok(mam_authz_memo_get(&memo, U1, NOW, &av, &active) && av == 5,
       "one asked after it is");

    colliding(other);
    ok(other[0] != '\0', "a user sharing U1's slot exists");
    mam_authz_memo_put(&memo, other, 9, 1, mam_authz_memo_gen(&memo, other),
                       NOW);
    ok(!mam_authz_memo_get(&memo, U1, NOW, &av, &active),
       "a colliding user evicts");
    ok(mam_authz_memo_get(&memo, other, NOW, &av, &active) && av == 9,
       "and is answered as itself, never as U1");
    mam_authz_memo_changed(&memo, U1);
    ok(mam_authz_memo_get(&memo, other, NOW, &av, &active) && av == 9,
       "a change of U1 does not forget the user in its slot");

    mam_authz_memo_changed(&memo, NULL);
    ok(!mam_authz_memo_get(&memo, other, NOW, &av, &active),
       "a change of someone unknown forgets everyone");

    ok(memo.hits > 0 && memo.misses > 0, "hits and misses are counted");

    /* two workers of a host: a makes a change, b has not heard it yet */
    mam_authz_memo_init(&worker_a);
    mam_authz_memo_init(&worker_b);
    mam_authz_memo_share(&worker_a, changes);
    mam_authz_memo_share(&worker_b, changes);
    mam_authz_memo_listen(&worker_a, 1);
    mam_authz_memo_listen(&worker_b, 1);
    mam_authz_memo_put(&worker_b, U1, 6, 1,
                       mam_authz_memo_gen(&worker_b, U1), NOW);
    mam_authz_memo_put(&worker_b, U2, 2, 1,
                       mam_authz_memo_gen(&worker_b, U2), NOW);
    ok(mam_authz_memo_get(&worker_b, U1, NOW, &av, &active) && av == 6,
       "a worker sharing the counters answers what it read");
    mam_authz_changes_bump(changes, U1);
    ok(!mam_authz_memo_get(&worker_b, U1, NOW, &av, &active),
       "another worker's change is not used stale, heard or not");
    ok(mam_authz_memo_get(&worker_b, U2, NOW, &av, &active) && av == 2,
       "... and other users' entries stay");
    mam_authz_memo_put(&worker_b, U1, 7, 1,
                       mam_authz_memo_gen(&worker_b, U1), NOW);
    ok(mam_authz_memo_get(&worker_b, U1, NOW, &av, &active) && av == 7,
       "a read asked after the change is kept");
    gen = mam_authz_memo_gen(&worker_b, U1);
    mam_authz_changes_bump(changes, U1);
    mam_authz_memo_put(&worker_b, U1, 7, 1, gen, NOW);
    ok(!mam_authz_memo_get(&worker_b, U1, NOW, &av, &active),
       "a read asked before a change and answered after is not kept");
    mam_authz_memo_put(&worker_a, U2, 3, 1,
                       mam_authz_memo_gen(&worker_a, U2), NOW);
    mam_authz_changes_bump(changes, U2);
    ok(!mam_authz_memo_get(&worker_a, U2, NOW, &av, &active),
       "the worker that made the change stops using its own entry too");

    return done_testing();
}

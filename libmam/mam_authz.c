#include "mam_authz.h"

#include <stdint.h>
#include <string.h>

void
mam_authz_memo_init(mam_authz_memo_t *m)
{
    memset(m, 0, sizeof(*m));
}

static void
mam_authz_memo_empty(mam_authz_memo_t *m)
{
    size_t  i;

    for (i = 0; i < MAM_AUTHZ_MEMO_SLOTS; i++) {
        m->slot[i].used = 0;
    }
    m->gen++;
}

void
mam_authz_memo_listen(mam_authz_memo_t *m, int on)
{
    mam_authz_memo_empty(m);
    m->on = on;
}

/* FNV-1a of the id: ids are random (v4), any of their bytes would do */
static size_t
mam_authz_slot_index(const char *user)
{
    size_t    i;
    uint32_t  h = 2166136261u;

    for (i = 0; i < MAM_UUID_LEN; i++) {
        h = (h ^ (unsigned char) user[i]) * 16777619u;
    }
    return h % MAM_AUTHZ_MEMO_SLOTS;
}

static mam_authz_memo_slot_t *
mam_authz_memo_slot(mam_authz_memo_t *m, const char *user)
{
    return &m->slot[mam_authz_slot_index(user)];
}

/* user's shared counter now (0 without shared counters) */
static unsigned long
mam_authz_memo_seen(const mam_authz_memo_t *m, const char *user)
{
    if (m->changes == NULL) {
        return 0;
    }
    return __atomic_load_n(&m->changes[mam_authz_slot_index(user)],
                           __ATOMIC_ACQUIRE);
}

void
mam_authz_memo_share(mam_authz_memo_t *m, unsigned long *changes)
{
    mam_authz_memo_empty(m);
    m->changes = changes;
}

void
mam_authz_changes_bump(unsigned long *changes, const char *user)
{
    (void) __atomic_add_fetch(&changes[mam_authz_slot_index(user)], 1,
                              __ATOMIC_RELEASE);
}

void
mam_authz_memo_changed(mam_authz_memo_t *m, const char *user)
{
    mam_authz_memo_slot_t  *s;

    if (user == NULL) {
        mam_authz_memo_empty(m);
        return;
    }

    s = mam_authz_memo_slot(m, user);
    if (s->used && memcmp(s->user, user, MAM_UUID_LEN) == 0) {
        s->used = 0;
    }
    m->gen++;
}

int
mam_authz_memo_get(mam_authz_memo_t *m, const char *user, long long now,
    long *av, int *active)
{
    mam_authz_memo_slot_t  *s;

    s = mam_authz_memo_slot(m, user);

    if (!m->on || !s->used || memcmp(s->user, user, MAM_UUID_LEN) != 0) {
        m->misses++;
        return 0;
    }

    if (now >= s->until || s->seen != mam_authz_memo_seen(m, user)) {
        s->used = 0;
        m->misses++;
        return 0;
    }

    m->hits++;
    *av = s->av;
    *active = s->active;
    return 1;
}

/* the local generation and the shared counter only grow: their sum
 * moves when either does */
unsigned long
mam_authz_memo_gen(const mam_authz_memo_t *m, const char *user)
{
    return m->gen + mam_authz_memo_seen(m, user);
}

void
mam_authz_memo_put(mam_authz_memo_t *m, const char *user, long av,
    int active, unsigned long gen, long long now)
{
    mam_authz_memo_slot_t  *s;

    if (!m->on || gen != mam_authz_memo_gen(m, user)) {
        return;
    }

    s = mam_authz_memo_slot(m, user);
    s->seen = mam_authz_memo_seen(m, user);
    memcpy(s->user, user, MAM_UUID_LEN);
    s->av = av;
    s->active = active ? 1 : 0;
    s->until = now + MAM_AUTHZ_MEMO_TTL_MS;
    s->used = 1;
}

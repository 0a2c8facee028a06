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
static mam_authz_memo_slot_t *
mam_authz_memo_slot(mam_authz_memo_t *m, const char *user)
{
    size_t    i;
    uint32_t  h = 2166136261u;

    for (i = 0; i < MAM_UUID_LEN; i++) {
        h = (h ^ (unsigned char) user[i]) * 16777619u;
    }
    return &m->slot[h % MAM_AUTHZ_MEMO_SLOTS];
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

    if (now >= s->until) {
        s->used = 0;
        m->misses++;
        return 0;
    }

    m->hits++;
    *av = s->av;
    *active = s->active;
    return 1;
}

unsigned long
mam_authz_memo_gen(const mam_authz_memo_t *m)
{
    return m->gen;
}

void
mam_authz_memo_put(mam_authz_memo_t *m, const char *user, long av,
    int active, unsigned long gen, long long now)
{
    mam_authz_memo_slot_t  *s;

    if (!m->on || gen != m->gen) {
        return;
    }

    s = mam_authz_memo_slot(m, user);
    memcpy(s->user, user, MAM_UUID_LEN);
    s->av = av;
    s->active = active ? 1 : 0;
    s->until = now + MAM_AUTHZ_MEMO_TTL_MS;
    s->used = 1;
}

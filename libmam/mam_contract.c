#include "mam_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const  mam_job_fields[MAM_JOB_NFIELDS] = {
    MAM_JOB_JOB_ID, MAM_JOB_VERSION_ID, MAM_JOB_ASSET_ID, MAM_JOB_MASTER_KEY,
    MAM_JOB_ATTEMPT, MAM_JOB_ENQUEUED_AT
};

void
mam_job_init(mam_job_t *job)
{
    memset(job, 0, sizeof(*job));
}

static int
mam_job_name_is(const char *name, size_t nlen, const char *field)
{
    return nlen == strlen(field) && memcmp(name, field, nlen) == 0;
}

/* a value into its slot, or the slot emptied: a value that does not fit is
 * refused, not cut, so a long id never becomes a shorter valid one; NUL
 * bytes (Redis values are binary) are refused the same way */
static int
mam_job_copy(char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size || memchr(v, '\0', len) != NULL) {
        dst[0] = '\0';
        return -1;
    }

    memcpy(dst, v, len);
    dst[len] = '\0';

    return 0;
}

/* decimal digits only, at most MAM_JOB_ATTEMPT_MAX; -1 otherwise */
static long
mam_job_number(const char *v, size_t len)
{
    long    n;
    size_t  i;

    if (len == 0 || len > 9) {
        return -1;
    }

    for (i = 0, n = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        n = n * 10 + (v[i] - '0');
    }

    return n;
}

int
mam_job_set(mam_job_t *job, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
    if (mam_job_name_is(name, nlen, MAM_JOB_JOB_ID)) {
        return mam_job_copy(job->job_id, sizeof(job->job_id), value, vlen);
    }

    if (mam_job_name_is(name, nlen, MAM_JOB_VERSION_ID)) {
        return mam_job_copy(job->version_id, sizeof(job->version_id), value,
                            vlen);
    }

    if (mam_job_name_is(name, nlen, MAM_JOB_ASSET_ID)) {
        return mam_job_copy(job->asset_id, sizeof(job->asset_id), value,
                            vlen);
    }

    if (mam_job_name_is(name, nlen, MAM_JOB_MASTER_KEY)) {
        return mam_job_copy(job->master_key, sizeof(job->master_key), value,
                            vlen);
    }

    if (mam_job_name_is(name, nlen, MAM_JOB_ENQUEUED_AT)) {
        return mam_job_copy(job->enqueued_at, sizeof(job->enqueued_at), value,
                            vlen);
    }

    if (mam_job_name_is(name, nlen, MAM_JOB_ATTEMPT)) {
        job->attempt = mam_job_number(value, vlen);
        return job->attempt < 0 ? -1 : 0;
    }

    return 1;
}

/* every field is checked before it names a file: ids are UUIDs and the
 * master lies under masters/{asset_id}/ */
int
mam_job_valid(const mam_job_t *job)
{
    size_t  alen, mlen, plen;

    alen = strlen(job->asset_id);
    mlen = strlen(job->master_key);
    plen = sizeof(MAM_AREA_MASTERS) - 1;

    return mam_uuid_valid(job->job_id, strlen(job->job_id))
           && mam_uuid_valid(job->version_id, strlen(job->version_id))
           && mam_uuid_valid(job->asset_id, alen)
           && mam_key_valid(job->master_key, mlen)
           && mlen > plen + alen + 1
           && memcmp(job->master_key, MAM_AREA_MASTERS, plen) == 0
           && memcmp(job->master_key + plen, job->asset_id, alen) == 0
           && job->master_key[plen + alen] == '/'
           && job->attempt >= 0;
}

void
mam_job_argv(const mam_job_t *job, char num[16], const char **argv)
{
    size_t       i;
    const char  *values[MAM_JOB_NFIELDS];

    snprintf(num, 16, "%ld", job->attempt);

    /* in the order of mam_job_fields */
    values[0] = job->job_id;
    values[1] = job->version_id;
    values[2] = job->asset_id;
    values[3] = job->master_key;
    values[4] = num;
    values[5] = job->enqueued_at;

    for (i = 0; i < MAM_JOB_NFIELDS; i++) {
        argv[2 * i] = mam_job_fields[i];
        argv[2 * i + 1] = values[i];
    }
}

int
mam_preview_status_valid(const char *s, size_t len)
{
    size_t              i;
    static const char  *statuses[] = {
        MAM_PREVIEW_QUEUED, MAM_PREVIEW_PROCESSING, MAM_PREVIEW_READY,
        MAM_PREVIEW_FAILED
    };

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (len == strlen(statuses[i]) && memcmp(s, statuses[i], len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* --- the callback ------------------------------------------------------- */

/* "{ts}.{body}", the signed message, malloc'd; NULL without memory */
static char *
mam_callback_message(const char *ts, size_t tslen, const void *body,
    size_t blen, size_t *len)
{
    char  *msg;

    msg = malloc(tslen + 1 + blen);
    if (msg == NULL) {
        return NULL;
    }

    memcpy(msg, ts, tslen);
    msg[tslen] = '.';
    if (blen) {
        memcpy(msg + tslen + 1, body, blen);
    }

    *len = tslen + 1 + blen;

    return msg;
}

int
mam_callback_sign(const void *key, size_t keylen, long ts, const void *body,
    size_t len, mam_callback_sig_t *out)
{
    int     n, rc;
    char   *msg, hex[65];
    size_t  mlen;

    /* what the verifier would refuse is never signed */
    n = snprintf(out->ts, sizeof(out->ts), "%ld", ts);
    if (keylen == 0 || ts < 0 || n < 1 || (size_t) n >= sizeof(out->ts)) {
        return -1;
    }

    msg = mam_callback_message(out->ts, (size_t) n, body, len, &mlen);
    if (msg == NULL) {
        return -1;
    }

    rc = mam_hmac_hex(key, keylen, msg, mlen, hex);
    free(msg);

    if (rc != 0) {
        return -1;
    }

    memcpy(out->sig, MAM_CALLBACK_SIG_PREFIX,
           sizeof(MAM_CALLBACK_SIG_PREFIX) - 1);
    memcpy(out->sig + sizeof(MAM_CALLBACK_SIG_PREFIX) - 1, hex, sizeof(hex));

    return 0;
}

int
mam_callback_verify(const void *key, size_t keylen, const char *ts,
    size_t tslen, const char *sig, size_t siglen, const void *body,
    size_t blen, long now, long window)
{
    int     ok;
    long    t;
    char   *msg;
    size_t  i, plen, mlen;

    plen = sizeof(MAM_CALLBACK_SIG_PREFIX) - 1;

    if (keylen == 0 || tslen == 0 || tslen > MAM_CALLBACK_TS_MAX
        || siglen != MAM_CALLBACK_SIG_LEN
        || memcmp(sig, MAM_CALLBACK_SIG_PREFIX, plen) != 0)
    {
        return 0;
    }

    for (i = 0, t = 0; i < tslen; i++) {
        if (ts[i] < '0' || ts[i] > '9') {
            return 0;
        }
        t = t * 10 + (ts[i] - '0');
    }

    if (t < now - window || t > now + window) {
        return 0;
    }

    msg = mam_callback_message(ts, tslen, body, blen, &mlen);
    if (msg == NULL) {
        return 0;
    }

    ok = mam_hmac_hex_verify(key, keylen, msg, mlen, sig + plen, 64);

    free(msg);

    return ok;
}

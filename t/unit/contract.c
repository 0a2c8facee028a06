/* libmam/mam_contract.c: a job's stream entry, as the module writes it and
 * transcoderd reads it; the callback, as transcoderd signs it and the module
 * verifies it. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "mam_contract.h"

#define JOB     "0b6f0c1e-8a38-4d8e-9a53-1f0b3c7d2e41"
#define VERSION "7d2c4e9a-1b3f-4c5d-8e6f-0a1b2c3d4e5f"
#define ASSET   "c3a1e2d4-5f60-4718-9a2b-3c4d5e6f7a8b"
#define MASTER  "masters/" ASSET "/v1/clip.mp4"

static int
set(mam_job_t *job, const char *name, const char *value)
{
    return mam_job_set(job, name, strlen(name), value, strlen(value));
}

/* an entry as the module adds it */
static void
fill(mam_job_t *job)
{
    mam_job_init(job);
    set(job, MAM_JOB_JOB_ID, JOB);
    set(job, MAM_JOB_VERSION_ID, VERSION);
    set(job, MAM_JOB_ASSET_ID, ASSET);
    set(job, MAM_JOB_MASTER_KEY, MASTER);
    set(job, MAM_JOB_ATTEMPT, "2");
    set(job, MAM_JOB_ENQUEUED_AT, "2024-05-01T10:00:00.000Z");
}

static void
test_entry(void)
{
    size_t       i;
    char         num[16], longer[MAM_KEY_MAX_LEN + 8];
    const char  *argv[MAM_JOB_ARGC];
    mam_job_t    job, back;

    fill(&job);
    ok(mam_job_valid(&job), "a well-formed entry is valid");
    ok(job.attempt == 2, "attempt is parsed");

    /* what XADD writes is what the daemon reads back */
    mam_job_argv(&job, num, argv);
    ok(strcmp(argv[0], "job_id") == 0 && strcmp(argv[1], JOB) == 0,
       "argv starts with job_id");
    ok(strcmp(argv[8], "attempt") == 0 && strcmp(argv[9], "2") == 0,
       "attempt is written as a number");
    for (i = 0; i < MAM_JOB_NFIELDS; i++) {
        ok(strcmp(argv[2 * i], mam_job_fields[i]) == 0,
           "field %zu is %s", i, mam_job_fields[i]);
    }

    mam_job_init(&back);
    for (i = 0; i < MAM_JOB_ARGC; i += 2) {
        mam_job_set(&back, argv[i], strlen(argv[i]), argv[i + 1],
                    strlen(argv[i + 1]));
    }
    ok(memcmp(&job, &back, sizeof(job)) == 0, "argv parses back the same");

    ok(set(&job, "colour", "blue") == 1, "an unknown field is ignored");
    ok(mam_job_valid(&job), "... and the entry stays valid");

    /* bounds: a value that does not fit is refused, not cut */
    fill(&job);
    ok(set(&job, MAM_JOB_JOB_ID, JOB "0") == -1, "a job_id too long: -1");
    ok(job.job_id[0] == '\0', "... leaves the slot empty");
    ok(!mam_job_valid(&job), "... and the entry invalid");

    fill(&job);
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, "masters/" ASSET "/", sizeof("masters/" ASSET "/") - 1);
    ok(set(&job, MAM_JOB_MASTER_KEY, longer) == -1, "a master_key too long");
    ok(!mam_job_valid(&job), "... invalid");

    fill(&job);
    ok(mam_job_set(&job, MAM_JOB_JOB_ID, 6, JOB "\0x", sizeof(JOB) + 1) == -1,
       "a NUL inside a value is refused");

    fill(&job);
    ok(set(&job, MAM_JOB_ATTEMPT, "2x") == -1 && !mam_job_valid(&job),
       "attempt not a number: invalid");
    fill(&job);
    ok(set(&job, MAM_JOB_ATTEMPT, "1234567890") == -1, "attempt too large");
    fill(&job);
    ok(set(&job, MAM_JOB_ATTEMPT, "-1") == -1, "attempt negative");

    /* what a master may be */
    fill(&job);
    set(&job, MAM_JOB_MASTER_KEY, "masters/" VERSION "/v1/clip.mp4");
    ok(!mam_job_valid(&job), "a master of another asset: invalid");
    fill(&job);
    set(&job, MAM_JOB_MASTER_KEY, "uploads/" ASSET "/clip.mp4");
    ok(!mam_job_valid(&job), "a master outside masters/: invalid");
    fill(&job);
    set(&job, MAM_JOB_MASTER_KEY, "masters/" ASSET "/../../etc/passwd");
    ok(!mam_job_valid(&job), "a master with ..: invalid");
    fill(&job);
    set(&job, MAM_JOB_MASTER_KEY, "masters/" ASSET);
    ok(!mam_job_valid(&job), "the asset's folder itself: invalid");
    fill(&job);
    set(&job, MAM_JOB_VERSION_ID, "7D2C4E9A-1B3F-4C5D-8E6F-0A1B2C3D4E5F");
    ok(!mam_job_valid(&job), "an upper-case UUID: invalid");

    mam_job_init(&job);
    set(&job, "old", "1");
    ok(!mam_job_valid(&job), "an entry without the fields: invalid");
}

static void
test_status(void)
{
    ok(mam_preview_status_valid("ready", 5), "ready is a status");
    ok(mam_preview_status_valid("processing", 10), "processing is a status");
    ok(!mam_preview_status_valid("readyx", 6), "readyx is not");
    ok(!mam_preview_status_valid("read", 4), "read is not");
    ok(!mam_preview_status_valid("none", 4), "none is not a callback's");
}

#define NOW  1800000000L
#define KEY  "callback key of at least thirty-two bytes"

static int
verify(const char *key, const mam_callback_sig_t *sig, const char *body,
    long now)
{
    return mam_callback_verify(key, strlen(key), sig->ts, strlen(sig->ts),
                               sig->sig, strlen(sig->sig), body,
                               strlen(body), now, MAM_CALLBACK_WINDOW);
}

static void
test_callback(void)
{
    char                body[] = "{\"job_id\":\"" JOB "\","
                                 "\"status\":\"ready\"}";
    char                upper[MAM_CALLBACK_SIG_LEN + 1], msg[256];
    char                want[MAM_CALLBACK_SIG_LEN + 1];
    size_t              i;
    unsigned int        mdlen;
    unsigned char       md[32];
    mam_callback_sig_t  sig, other;

    ok(mam_callback_sign(KEY, strlen(KEY), NOW, body, strlen(body), &sig)
       == 0, "sign");
    ok(strcmp(sig.ts, "1800000000") == 0, "X-Mam-Timestamp is the seconds");
    ok(strncmp(sig.sig, "sha256=", 7) == 0
       && strlen(sig.sig) == MAM_CALLBACK_SIG_LEN,
       "X-Mam-Signature is sha256= and 64 hex digits");
    ok(verify(KEY, &sig, body, NOW), "sign -> verify round trip");
    ok(verify(KEY, &sig, body, NOW + MAM_CALLBACK_WINDOW),
       "... still at the window's end");

    /* api.md's formula, computed here on its own */
    snprintf(msg, sizeof(msg), "%ld.%s", NOW, body);
    HMAC(EVP_sha256(), KEY, (int) strlen(KEY), (unsigned char *) msg,
         strlen(msg), md, &mdlen);
    memcpy(want, "sha256=", 7);
    for (i = 0; i < 32; i++) {
        snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
    }
    ok(strcmp(sig.sig, want) == 0,
       "the signature is hex HMAC-SHA256(key, ts \".\" body)");

    body[10] ^= 1;
    ok(!verify(KEY, &sig, body, NOW), "a changed byte of the body fails");
    body[10] ^= 1;

    ok(!verify(KEY "x", &sig, body, NOW), "a wrong key fails");
    ok(!verify(KEY, &sig, body, NOW + MAM_CALLBACK_WINDOW + 1),
       "a stale timestamp fails");
    ok(!verify(KEY, &sig, body, NOW - MAM_CALLBACK_WINDOW - 1),
       "a timestamp from the future fails");

    other = sig;
    other.ts[9] = '1';
    ok(!verify(KEY, &other, body, NOW), "another timestamp, same sig fails");

    other = sig;
    other.sig[20] = other.sig[20] == '0' ? '1' : '0';
    ok(!verify(KEY, &other, body, NOW), "a changed signature digit fails");

    other = sig;
    other.sig[MAM_CALLBACK_SIG_LEN - 1] = '\0';
    ok(!verify(KEY, &other, body, NOW), "a short signature fails");

    other = sig;
    memcpy(other.sig, "sha512=", 7);
    ok(!verify(KEY, &other, body, NOW), "another prefix fails");

    for (i = 0; i <= MAM_CALLBACK_SIG_LEN; i++) {
        upper[i] = (sig.sig[i] >= 'a' && sig.sig[i] <= 'f' && i >= 7)
                   ? (char) (sig.sig[i] - 32) : sig.sig[i];
    }
    ok(mam_callback_verify(KEY, strlen(KEY), sig.ts, strlen(sig.ts), upper,
                           strlen(upper), body, strlen(body), NOW,
                           MAM_CALLBACK_WINDOW),
       "upper-case hex digits are taken");

    ok(!mam_callback_verify(KEY, strlen(KEY), "+1800000000", 11, sig.sig,
                            strlen(sig.sig), body, strlen(body), NOW,
                            MAM_CALLBACK_WINDOW),
       "a timestamp with a sign fails");
    ok(!mam_callback_verify("", 0, sig.ts, strlen(sig.ts), sig.sig,
                            strlen(sig.sig), body, strlen(body), NOW,
                            MAM_CALLBACK_WINDOW),
       "an empty key verifies nothing");

    ok(mam_callback_sign(KEY, strlen(KEY), -1, body, strlen(body), &other)
       == -1, "a negative timestamp is not signed");
    ok(mam_callback_sign(KEY, strlen(KEY), 1000000000000L, body,
                         strlen(body), &other) == -1,
       "a timestamp over 12 digits is not signed");
    ok(mam_callback_sign("", 0, NOW, body, strlen(body), &other) == -1,
       "an empty key signs nothing");

    ok(mam_callback_sign(KEY, strlen(KEY), NOW, "", 0, &other) == 0
       && mam_callback_verify(KEY, strlen(KEY), other.ts, strlen(other.ts),
                              other.sig, strlen(other.sig), "", 0, NOW,
                              MAM_CALLBACK_WINDOW),
       "an empty body round-trips");
}

int
main(void)
{
    test_entry();
    test_status();
    test_callback();

    return done_testing();
}

/*
 * The contract between the module and transcoderd (pipeline.md, api.md):
 * the Redis names both use, a preview job's stream entry, and the signed
 * callback.  Each side includes this file instead of spelling the names
 * itself, so a rename cannot reach one side only.
 */
#ifndef MAM_CONTRACT_H
#define MAM_CONTRACT_H

#include <stddef.h>

#include "mam_storage.h"
#include "mam_util.h"

/* --- Redis --------------------------------------------------------------- */

#define MAM_STREAM_BUILD       "previews:build"   /* jobs (module: XADD) */
#define MAM_STREAM_DEAD        "previews:dead"    /* jobs given up */
#define MAM_STREAM_GROUP       "transcoderd"      /* on previews:build */

/* preview status events for the SSE subscribers of every worker */
#define MAM_CHANNEL_PREVIEWS   "mam:previews"

/* a user's authz change: the script that writes MAM_AUTHZ_KEY "{id}"
 * publishes "{key} {av}:{status}" here, which ends the user's streams */
#define MAM_CHANNEL_AUTHZ      "mam:authz"
#define MAM_AUTHZ_KEY          "mam:authz:"

/* notifications (issue 21): {project_id, to: [{user_id, notification}]},
 * each delivered to its recipient's event streams only */
#define MAM_CHANNEL_NOTIFY     "mam:notify"

/* --- a job's stream entry (pipeline.md) ---------------------------------- */

#define MAM_JOB_JOB_ID         "job_id"
#define MAM_JOB_VERSION_ID     "version_id"
#define MAM_JOB_ASSET_ID       "asset_id"
#define MAM_JOB_MASTER_KEY     "master_key"
#define MAM_JOB_ATTEMPT        "attempt"
#define MAM_JOB_ENQUEUED_AT    "enqueued_at"
#define MAM_JOB_ERROR          "error"            /* previews:dead only */

#define MAM_JOB_NFIELDS        6
#define MAM_JOB_ARGC           (2 * MAM_JOB_NFIELDS)   /* name, value, ... */

#define MAM_JOB_TIME_MAX       32                 /* enqueued_at, ISO 8601 */
#define MAM_JOB_ATTEMPT_MAX    999999999          /* nine digits */

typedef struct {
    char  job_id[MAM_UUID_LEN + 1];
    char  version_id[MAM_UUID_LEN + 1];
    char  asset_id[MAM_UUID_LEN + 1];
    char  master_key[MAM_KEY_MAX_LEN + 1];
    char  enqueued_at[MAM_JOB_TIME_MAX + 1];
    long  attempt;                                /* -1: malformed */
} mam_job_t;

/* the field names in the order an entry carries them */
extern const char *const  mam_job_fields[MAM_JOB_NFIELDS];

/* an empty entry (no field seen yet) */
void mam_job_init(mam_job_t *job);

/*
 * One field of an entry: 0 when taken, 1 when name is no field of the
 * entry (ignored), -1 when the value does not fit its slot or is not a
 * number: the slot is then left empty (attempt -1), never cut short, so
 * mam_job_valid() refuses the entry.
 */
int mam_job_set(mam_job_t *job, const char *name, size_t nlen,
    const char *value, size_t vlen);

/*
 * 1 when the entry may name files: ids are UUIDs, the master is a valid
 * key under masters/{asset_id}/, attempt is a number.
 */
int mam_job_valid(const mam_job_t *job);

/*
 * The entry's MAM_JOB_ARGC field names and values for XADD into argv;
 * attempt is written into num (the values point into job and num, which
 * must outlive argv).
 */
void mam_job_argv(const mam_job_t *job, char num[16], const char **argv);

/* --- the callback (api.md): POST /api/preview/callback ------------------- */

/*
 * X-Mam-Timestamp: decimal seconds; X-Mam-Signature: "sha256=" and the hex
 * HMAC-SHA256 under the callback key of "{timestamp}.{raw body}".  A
 * timestamp further than the window from now is refused, so a captured
 * callback cannot be replayed later.
 */
#define MAM_CALLBACK_HEADER_TS   "X-Mam-Timestamp"
#define MAM_CALLBACK_HEADER_SIG  "X-Mam-Signature"
#define MAM_CALLBACK_WINDOW      300              /* s either side of now */
#define MAM_CALLBACK_SIG_PREFIX  "sha256="
#define MAM_CALLBACK_TS_MAX      12               /* digits */
#define MAM_CALLBACK_SIG_LEN     (sizeof(MAM_CALLBACK_SIG_PREFIX) - 1 + 64)

typedef struct {
    char  ts[MAM_CALLBACK_TS_MAX + 1];            /* X-Mam-Timestamp */
    char  sig[MAM_CALLBACK_SIG_LEN + 1];          /* X-Mam-Signature */
} mam_callback_sig_t;

/* the two header values for body sent at ts (seconds, >= 0); 0 or -1 */
int mam_callback_sign(const void *key, size_t keylen, long ts,
    const void *body, size_t len, mam_callback_sig_t *out);

/*
 * 1 when ts (X-Mam-Timestamp) is within window of now and sig
 * (X-Mam-Signature, hex digits of either case) is body's signature at ts
 * under key, compared in constant time; 0 otherwise
 */
int mam_callback_verify(const void *key, size_t keylen, const char *ts,
    size_t tslen, const char *sig, size_t siglen, const void *body,
    size_t blen, long now, long window);

/* the body: {job_id, version_id, status, progress?, metadata?,
 * renditions?, error?, playable?} */
#define MAM_CALLBACK_JOB_ID      "job_id"
#define MAM_CALLBACK_VERSION_ID  "version_id"
#define MAM_CALLBACK_STATUS      "status"
#define MAM_CALLBACK_PROGRESS    "progress"
#define MAM_CALLBACK_METADATA    "metadata"
#define MAM_CALLBACK_RENDITIONS  "renditions"
#define MAM_CALLBACK_ERROR       "error"
/* processing: true once the first segments of every stream and the master
 * playlist are published (playable while transcoding), false when they
 * were withdrawn; absent leaves it as it was */
#define MAM_CALLBACK_PLAYABLE    "playable"
#define MAM_CALLBACK_ERROR_MAX   2000             /* characters */

#define MAM_PREVIEW_QUEUED       "queued"
#define MAM_PREVIEW_PROCESSING   "processing"
#define MAM_PREVIEW_READY        "ready"
#define MAM_PREVIEW_FAILED       "failed"

/* 1 when s is one of the statuses above */
int mam_preview_status_valid(const char *s, size_t len);

#endif

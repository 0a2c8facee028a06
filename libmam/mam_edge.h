/*
 * Signed playback URLs (edge.md):
 *   {prefix}{exp}/{sig}/{asset_id}/{version_id}/{rest}
 * sig = base64url(HMAC-SHA256(key, "{exp}/{asset_id}/{version_id}"
 * ["/{client_ip}"])).  Parsing works on the raw request path, before nginx
 * decodes or merges anything, and never touches the file system.
 *
 * Revocation (README, Revocation): the exp segment may carry the asset's
 * play epoch as "{exp}.{epoch}" (epoch 1..999999999; epoch 0 is written
 * as nothing, so URLs of assets never revoked are exactly edge.md's).  The
 * signed message holds the segment as written, so the epoch is signed; the
 * edge refuses a URL whose epoch is below the asset's current one.
 */
#ifndef MAM_EDGE_H
#define MAM_EDGE_H

#include <stddef.h>

#include "mam_util.h"

#define MAM_EDGE_REST_MAX   512
#define MAM_EDGE_EPOCH_MAX  999999999UL

/* Redis: "{MAM_EDGE_EPOCH_KEY}{asset_id}" holds the asset's current play
 * epoch while it matters (no key: 0), written by the API, read by edges */
#define MAM_EDGE_EPOCH_KEY  "mam:play:"

#define MAM_EDGE_OK         0
#define MAM_EDGE_BAD        1      /* 400: malformed path or ids */
#define MAM_EDGE_FORBIDDEN  2      /* 403: malformed signature */

typedef struct {
    long    exp;
    unsigned long  epoch;              /* 0 when the URL carries none */
    char    exp_text[24];              /* the segment: "{exp}[.{epoch}]" */
    char    sig[MAM_SIG_LEN + 1];
    char    asset_id[MAM_UUID_LEN + 1];
    char    version_id[MAM_UUID_LEN + 1];
    char    rest[MAM_EDGE_REST_MAX + 1];    /* decoded, validated */
    size_t  rest_len;
} mam_edge_url_t;

/* path: the raw path after the location prefix (no query string) */
int mam_edge_parse(const char *path, size_t len, mam_edge_url_t *url);

/* the signed message into buf (at least 128 bytes); its length */
size_t mam_edge_message(char *buf, size_t size, const char *exp,
    const char *asset_id, const char *version_id, const char *client_ip);

/* 1 when url's signature is right for key (constant-time compare) */
int mam_edge_verify(const unsigned char *key, size_t keylen,
    const mam_edge_url_t *url, const char *client_ip);

/* the whole signed path "{exp}[.{epoch}]/{sig}/{asset}/{version}/{rest}"
 * into buf: the one function that mints playback URLs (sign-preview, guest
 * shares).  epoch: the asset's current play epoch (mam_preview_playable's
 * "epoch"), 0 for none; client_ip NULL unless mam_edge_bind_ip.  -1 when
 * it does not fit or epoch is over MAM_EDGE_EPOCH_MAX */
int mam_edge_sign(const unsigned char *key, size_t keylen, long exp,
    unsigned long epoch, const char *asset_id, const char *version_id,
    const char *rest, const char *client_ip, char *buf, size_t size);

/*
 * Download URLs (README, Downloads):
 *   {prefix}d/{exp}/{sig}/{name}/{key}
 * name: the file name the answer's Content-Disposition gives,
 * percent-encoded (mam_edge_name_encode()); key: a storage key under
 * masters/ or previews/.  sig = base64url(HMAC-SHA256(key,
 * "d/{exp}/{name}/{key}" ["/{client_ip}"])): the file and the name it is
 * saved under are both signed, and the "d/" keeps the message apart from
 * a playback one, which starts with a digit.
 */
#define MAM_EDGE_NAME_MAX         255     /* bytes of the decoded name */
#define MAM_EDGE_DL_MESSAGE_MAX   2048

typedef struct {
    long    exp;
    char    exp_text[24];
    char    sig[MAM_SIG_LEN + 1];
    char    name[3 * MAM_EDGE_NAME_MAX + 1];  /* as sent: percent-encoded */
    size_t  name_len;
    char    key[MAM_EDGE_REST_MAX + 1];       /* decoded, validated */
    size_t  key_len;
} mam_edge_dl_t;

/* path: the raw path after "{prefix}d/": OK, BAD or FORBIDDEN */
int mam_edge_dl_parse(const char *path, size_t len, mam_edge_dl_t *dl);

/* 1 when dl's signature is right for key (constant-time compare) */
int mam_edge_dl_verify(const unsigned char *key, size_t keylen,
    const mam_edge_dl_t *dl, const char *client_ip);

/* "d/{exp}/{sig}/{name}/{object_key}" into buf; name as encoded;
 * -1 when it does not fit */
int mam_edge_dl_sign(const unsigned char *key, size_t keylen, long exp,
    const char *name, const char *object_key, const char *client_ip,
    char *buf, size_t size);

/* a file name (UTF-8) percent-encoded for a download URL: bytes outside
 * [A-Za-z0-9._-] as %XX, control characters, '/', '\' and '"' as '_',
 * at most MAM_EDGE_NAME_MAX bytes; its length, 0 when out is too small */
size_t mam_edge_name_encode(const char *in, char *out, size_t size);

/* the Content-Disposition of an encoded name: attachment; filename="ASCII
 * with '_' for other bytes"; filename*=UTF-8''name.  0 or -1 */
int mam_edge_disposition(const char *name, char *buf, size_t size);

/* Content-Type by the extension of rest, or NULL */
const char *mam_edge_content_type(const char *rest, size_t len);

#endif

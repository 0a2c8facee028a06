/*
 * libFuzzer target: the signed playback path parser (libmam/mam_edge.c).
 * Whatever the input, the parser must not crash, and what it accepts must
 * be a path that cannot leave the version's preview folder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mam_edge.h"
#include "mam_storage.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mam_edge_url_t  u;

    if (mam_edge_parse((const char *) data, size, &u) != MAM_EDGE_OK) {
        return 0;
    }

    /* accepted: ids are UUIDs, rest is a valid storage key */
    if (!mam_uuid_valid(u.asset_id, strlen(u.asset_id))
        || !mam_uuid_valid(u.version_id, strlen(u.version_id))
        || u.rest_len != strlen(u.rest)
        || !mam_key_valid(u.rest, u.rest_len)
        || u.rest_len > MAM_EDGE_REST_MAX)
    {
        abort();
    }

    return 0;
}

/*
 * mam-edge-key SIGN_KEY_FILE: prints the edge key derived from the signing
 * key (mam_key_derive, "mam edge v1") as 64 hex digits, the content of
 * mam_edge_key_file for an edge-only host.  The other purposes' keys cannot
 * be derived from it.
 */
#include <stdio.h>

#include <openssl/crypto.h>

#include "mam_key.h"

int
main(int argc, char **argv)
{
    char           err[256];
    size_t         i, len;
    unsigned char  key[MAM_KEY_MAX_LEN], edge[MAM_KEY_DERIVED_LEN];

    if (argc != 2) {
        fprintf(stderr, "usage: mam-edge-key SIGN_KEY_FILE > edge.key\n");
        return 2;
    }

    if (mam_key_load(argv[1], key, sizeof(key), &len, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "mam-edge-key: %s\n", err);
        return 1;
    }

    if (mam_key_derive(key, len, MAM_KEY_LABEL_EDGE, edge) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        fprintf(stderr, "mam-edge-key: HKDF-SHA256 failed\n");
        return 1;
    }

    OPENSSL_cleanse(key, sizeof(key));

    for (i = 0; i < sizeof(edge); i++) {
        printf("%02x", edge[i]);
    }
    printf("\n");

    OPENSSL_cleanse(edge, sizeof(edge));

    return fflush(stdout) == 0 ? 0 : 1;
}

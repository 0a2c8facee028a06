/*
 * libFuzzer target: the verifier of transcoderd's signed callbacks
 * (mam_callback_verify in libmam/mam_contract.c).  The input is split into the
 * timestamp header, the signature header and the body.  No crash, and it
 * accepts only what carries the right HMAC for a timestamp in the window.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>

#include "mam_contract.h"

#define NOW     1800000000L
#define WINDOW  300L

static const unsigned char  key[] = "fuzzing callback key";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            ok;
    char           want[8 + 64];
    char          *msg;
    size_t         tslen, siglen, blen, i;
    unsigned int   mdlen;
    unsigned char  md[32];
    const char    *ts, *sig, *body;

    /* ts \n sig \n body */
    ts = (const char *) data;
    sig = memchr(ts, '\n', size);
    if (sig == NULL) {
        return 0;
    }
    tslen = (size_t) (sig - ts);
    sig++;
    body = memchr(sig, '\n', size - tslen - 1);
    if (body == NULL) {
        return 0;
    }
    siglen = (size_t) (body - sig);
    body++;
    blen = size - tslen - siglen - 2;

    ok = mam_callback_verify(key, sizeof(key) - 1, ts, tslen, sig, siglen,
                             body, blen, NOW, WINDOW);
    if (!ok) {
        return 0;
    }

    /* accepted: the digits are a time in the window and the HMAC is right */
    if (tslen == 0 || tslen > 12 || siglen != 71) {
        abort();
    }
    long t = 0;
    for (i = 0; i < tslen; i++) {
        if (ts[i] < '0' || ts[i] > '9') {
            abort();
        }
        t = t * 10 + (ts[i] - '0');
    }
    if (t < NOW - WINDOW || t > NOW + WINDOW) {
        abort();
    }

    msg = malloc(tslen + 1 + blen);
    memcpy(msg, ts, tslen);
    msg[tslen] = '.';
    memcpy(msg + tslen + 1, body, blen);
    HMAC(EVP_sha256(), key, sizeof(key) - 1, (unsigned char *) msg,
         tslen + 1 + blen, md, &mdlen);
    free(msg);

    memcpy(want, "sha256=", 7);
    for (i = 0; i < 32; i++) {
        snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
    }
    for (i = 0; i < 71; i++) {
        char a = sig[i], b = want[i];
        if (a >= 'A' && a <= 'F') {
            a = (char) (a - 'A' + 'a');
        }
        if (a != b) {
            abort();
        }
    }

    return 0;
}

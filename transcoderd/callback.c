/*
 * The signed callback (api.md): POST callback_url by libcurl, with the
 * headers of mam_callback_sign(), which lives next to the module's
 * verifier in libmam/mam_contract.c.  Network errors and 5xx are retried a
 * few times here; the job's own retry logic handles what still fails.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "mam_contract.h"

static size_t
td_callback_discard(char *p, size_t size, size_t n, void *data)
{
    (void) p;
    (void) data;
    return size * n;
}

static int
td_callback_once(const td_config_t *cf, const char *json, long *status)
{
    CURL                *c;
    CURLcode             rc;
    char                 hdr_ts[64], hdr_sig[128];
    struct curl_slist   *h = NULL;
    mam_callback_sig_t   sig;

    if (mam_callback_sign(cf->callback_key, cf->callback_key_len,
                          (long) time(NULL), json, strlen(json), &sig)
        != 0)
    {
        return -1;
    }

    snprintf(hdr_ts, sizeof(hdr_ts), MAM_CALLBACK_HEADER_TS ": %s", sig.ts);
    snprintf(hdr_sig, sizeof(hdr_sig), MAM_CALLBACK_HEADER_SIG ": %s",
             sig.sig);

    c = curl_easy_init();
    if (c == NULL) {
        return -1;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, hdr_ts);
    h = curl_slist_append(h, hdr_sig);

    curl_easy_setopt(c, CURLOPT_URL, cf->callback_url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(json));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, td_callback_discard);

    rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }

    curl_slist_free_all(h);
    curl_easy_cleanup(c);

    return rc == CURLE_OK ? 0 : -1;
}

int
td_callback(const td_config_t *cf, const char *json)
{
    int   i;
    long  status;

    for (i = 0; i < 4; i++) {
        if (i > 0) {
            usleep((useconds_t) (250000 << i));
        }
        if (td_callback_once(cf, json, &status) != 0) {
            continue;
        }
        if (status >= 200 && status < 300) {
            return 0;
        }
        if (status >= 400 && status < 500 && status != 429) {
            return 1;
        }
    }

    return -1;
}

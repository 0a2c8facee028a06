/*
 * libmam/mam_sigv4 against AWS's published examples; with a cases file as
 * argument it prints libmam's signatures of those cases instead, for
 * t/02-sigv4-sdk.t to compare with the AWS SDK's.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mam_sigv4.h"
#include "tap.h"

static const mam_sigv4_creds_t  aws = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "us-east-1", "s3"
};

static void
examples(void)
{
    char             sig[65], names[256], out[2048];
    mam_sigv4_req_t  r;

    static const mam_sigv4_creds_t  iam = {
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "us-east-1", "iam"
    };

    /* AWS General Reference, "Signature Version 4 signing process" */
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.path = "/";
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "Action", "ListUsers" };
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "Version", "2010-05-08" };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) {
        "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "Host", "iam.amazonaws.com" };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "X-Amz-Date", "20150830T123600Z" };
    r.payload_hash = MAM_SIGV4_EMPTY_SHA;
    ok(mam_sigv4_sign(&iam, &r, "20150830T123600Z", sig, names,
                      sizeof(names), NULL, 0) == 0
       && strcmp(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7") == 0,
       "AWS IAM ListUsers example: %s", sig);
    ok(strcmp(names, "content-type;host;x-amz-date") == 0, "... signed headers %s", names);

    /* Amazon S3 API reference, "Example: GET Object" (header-signed) */
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.path = "/test.txt";
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "Host", "examplebucket.s3.amazonaws.com" };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "Range", "bytes=0-9" };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "x-amz-content-sha256", MAM_SIGV4_EMPTY_SHA };
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "x-amz-date", "20130524T000000Z" };
    r.payload_hash = MAM_SIGV4_EMPTY_SHA;
    ok(mam_sigv4_sign(&aws, &r, "20130524T000000Z", sig, names,
                      sizeof(names), NULL, 0) == 0
       && strcmp(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0,
       "AWS S3 GET Object example: %s", sig);
    ok(mam_sigv4_authorization(&aws, &r, "20130524T000000Z", out, sizeof(out)) == 0
       && strcmp(out, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                      "us-east-1/s3/aws4_request, SignedHeaders=host;range;"
                      "x-amz-content-sha256;x-amz-date, Signature="
                      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0,
       "... the Authorization header");

    /* Amazon S3, "Example: presigned URL" */
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.path = "/test.txt";
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) { "Host", "examplebucket.s3.amazonaws.com" };
    ok(mam_sigv4_presign(&aws, &r, "20130524T000000Z", 86400, out, sizeof(out)) == 0
       && strstr(out, "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
       "AWS S3 presigned URL example: %s", out);
    ok(strstr(out, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request") != NULL,
       "... with the credential scope encoded");

    ok(mam_sigv4_uri_encode("a b/c~d!", 8, 1, out, sizeof(out)) == 12
       && strcmp(out, "a%20b/c~d%21") == 0, "UriEncode keeps unreserved and /: %s", out);
    ok(mam_sigv4_uri_encode("a/b", 3, 0, out, sizeof(out)) > 0
       && strcmp(out, "a%2Fb") == 0, "... and encodes / in query values");
    ok(mam_sigv4_uri_encode("\xc3\xbc", 2, 1, out, sizeof(out)) > 0
       && strcmp(out, "%C3%BC") == 0, "... UTF-8 bytes, upper-case hex");
    ok(mam_sigv4_uri_encode("abc", 3, 1, out, 3) == -1, "... refuses a too small buffer");
}

/* one case of the cases file */
static void
print_case(json_t *all, json_t *c, int presign)
{
    size_t           i;
    char             path[2048], out[8192];
    const char      *k;
    json_t          *v;
    mam_sigv4_req_t  r;
    mam_sigv4_creds_t cr;

    cr.access_key = json_string_value(json_object_get(all, "access_key"));
    cr.secret_key = json_string_value(json_object_get(all, "secret_key"));
    cr.region = json_string_value(json_object_get(all, "region"));
    cr.service = "s3";

    memset(&r, 0, sizeof(r));
    r.method = json_string_value(json_object_get(c, "method"));
    snprintf(path, sizeof(path), "/%s/%s",
             json_string_value(json_object_get(c, "bucket")),
             json_string_value(json_object_get(c, "key")));
    r.path = path;
    r.headers[r.nheaders++] = (mam_sigv4_pair_t) {
        "host", json_string_value(json_object_get(all, "host")) };
    if (!presign) {
        r.headers[r.nheaders++] = (mam_sigv4_pair_t) {
            "x-amz-date", json_string_value(json_object_get(all, "date")) };
        r.headers[r.nheaders++] = (mam_sigv4_pair_t) {
            "x-amz-content-sha256", MAM_SIGV4_UNSIGNED };
        r.payload_hash = MAM_SIGV4_UNSIGNED;
    }
    json_object_foreach(json_object_get(c, "headers"), k, v) {
        r.headers[r.nheaders++] = (mam_sigv4_pair_t) { k, json_string_value(v) };
    }
    json_object_foreach(json_object_get(c, "query"), k, v) {
        r.query[r.nquery++] = (mam_sigv4_pair_t) { k, json_string_value(v) };
    }
    (void) i;

    if (presign) {
        if (mam_sigv4_presign(&cr, &r, json_string_value(json_object_get(all, "date")),
                              (long) json_integer_value(json_object_get(c, "expires")),
                              out, sizeof(out)) != 0)
        {
            strcpy(out, "ERROR");
        }
    } else if (mam_sigv4_authorization(&cr, &r,
                   json_string_value(json_object_get(all, "date")), out,
                   sizeof(out)) != 0)
    {
        strcpy(out, "ERROR");
    }

    printf("%s %s\n", json_string_value(json_object_get(c, "name")), out);
}

int
main(int argc, char **argv)
{
    size_t   i;
    json_t  *all;

    if (argc < 2) {
        examples();
        return done_testing();
    }

    all = json_load_file(argv[1], 0, NULL);
    if (all == NULL) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    for (i = 0; i < json_array_size(json_object_get(all, "cases")); i++) {
        print_case(all, json_array_get(json_object_get(all, "cases"), i), 0);
    }
    for (i = 0; i < json_array_size(json_object_get(all, "presign")); i++) {
        print_case(all, json_array_get(json_object_get(all, "presign"), i), 1);
    }
    json_decref(all);
    return 0;
}

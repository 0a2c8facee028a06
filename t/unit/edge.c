/* libmam/mam_edge and the HMAC helpers: signed playback URL parsing. */
#include <string.h>

#include "mam_edge.h"
#include "mam_util.h"
#include "tap.h"

#define A "0b7e6c1a-3a4b-4c5d-8e9f-0123456789ab"
#define V "1c8f7d2b-4b5c-4d6e-9f0a-123456789abc"
#define SIG "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456"

static int
parse(const char *path, mam_edge_url_t *u)
{
    return mam_edge_parse(path, strlen(path), u);
}

int
main(void)
{
    mam_edge_url_t  u;
    char            out[64], buf[1024], path[2048];
    const unsigned char key[] = "0123456789abcdef0123456789abcdef";
    size_t          i;

    /* RFC 4231 test case 2 */
    mam_hmac_sign("Jefe", 4, "what do ya want for nothing?", 28, out);
    ok(strcmp(out, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM") == 0,
       "HMAC-SHA256 base64url matches RFC 4231 case 2");
    ok(mam_hmac_verify("Jefe", 4, "what do ya want for nothing?", 28,
                       out, strlen(out)), "verify accepts it");
    out[0] = 'X';
    ok(!mam_hmac_verify("Jefe", 4, "what do ya want for nothing?", 28,
                        out, strlen(out)), "verify refuses one changed char");
    ok(!mam_hmac_verify("Jefe", 4, "what do ya want for nothing?", 28,
                        out, 42), "verify refuses a truncated signature");

    ok(parse("1700000000/" SIG "/" A "/" V "/720p/segment_000.ts", &u)
       == MAM_EDGE_OK, "a well-formed URL parses");
    ok(u.exp == 1700000000 && strcmp(u.asset_id, A) == 0
       && strcmp(u.version_id, V) == 0
       && strcmp(u.rest, "720p/segment_000.ts") == 0, "... into its parts");
    ok(parse("1700000000/" SIG "/" A "/" V "/index.m3u8", &u) == MAM_EDGE_OK,
       "the master playlist");
    ok(parse("1700000000/" SIG "/" A "/" V "/720p/%73eg.ts", &u)
       == MAM_EDGE_OK && strcmp(u.rest, "720p/seg.ts") == 0,
       "a percent-encoded allowed byte is decoded");

    static const struct { const char *path; int rc; const char *what; } bad[] = {
        { "1700000000/" SIG "/" A "/" V "/../x.ts", MAM_EDGE_BAD, ".." },
        { "1700000000/" SIG "/" A "/" V "/./x.ts", MAM_EDGE_BAD, "." },
        { "1700000000/" SIG "/" A "/" V "/a//x.ts", MAM_EDGE_BAD, "empty segment" },
        { "1700000000/" SIG "/" A "/" V "/", MAM_EDGE_BAD, "empty rest" },
        { "1700000000/" SIG "/" A "/" V, MAM_EDGE_BAD, "no rest" },
        { "1700000000/" SIG "/" A "/" V "/a%2Fb.ts", MAM_EDGE_BAD, "%2F" },
        { "1700000000/" SIG "/" A "/" V "/a%5Cb.ts", MAM_EDGE_BAD, "%5C" },
        { "1700000000/" SIG "/" A "/" V "/a%00.ts", MAM_EDGE_BAD, "%00" },
        { "1700000000/" SIG "/" A "/" V "/%2e%2e/x.ts", MAM_EDGE_BAD, "%2e%2e" },
        { "1700000000/" SIG "/" A "/" V "/a%2", MAM_EDGE_BAD, "truncated escape" },
        { "1700000000/" SIG "/" A "/" V "/a%zz", MAM_EDGE_BAD, "bad escape" },
        { "1700000000/" SIG "/" A "/" V "/a\\b.ts", MAM_EDGE_BAD, "backslash" },
        { "1700000000/" SIG "/" A "/" V "/a b.ts", MAM_EDGE_BAD, "space" },
        { "1700000000/" SIG "/" A "/" V "/a\x01.ts", MAM_EDGE_BAD, "control char" },
        { "1700000000/" SIG "/" A "/" V "/a%20b.ts", MAM_EDGE_BAD, "%20" },
        { "1700000000/" SIG "/not-a-uuid/" V "/x.ts", MAM_EDGE_BAD, "asset not a UUID" },
        { "1700000000/" SIG "/" A "/" "1C8F7D2B-4B5C-4D6E-9F0A-123456789ABC/x.ts",
          MAM_EDGE_BAD, "upper-case UUID" },
        { "17000x0000/" SIG "/" A "/" V "/x.ts", MAM_EDGE_BAD, "exp not a number" },
        { "/" SIG "/" A "/" V "/x.ts", MAM_EDGE_BAD, "exp empty" },
        { "123456789012/" SIG "/" A "/" V "/x.ts", MAM_EDGE_BAD, "exp too long" },
        { "1700000000/abc/" A "/" V "/x.ts", MAM_EDGE_FORBIDDEN, "short signature" },
        { "1700000000/" SIG "x/" A "/" V "/x.ts", MAM_EDGE_FORBIDDEN, "long signature" },
        { "1700000000/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ012345=/" A "/" V "/x.ts",
          MAM_EDGE_FORBIDDEN, "signature with padding" },
        { "1700000000/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ01234+/" A "/" V "/x.ts",
          MAM_EDGE_FORBIDDEN, "signature with +" },
    };
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(parse(bad[i].path, &u) == bad[i].rc, "%s is refused", bad[i].what);
    }

    memset(path, 0, sizeof(path));
    strcpy(path, "1700000000/" SIG "/" A "/" V "/");
    memset(path + strlen(path), 'a', 513);
    ok(parse(path, &u) == MAM_EDGE_BAD, "a rest over 512 bytes is refused");

    ok(mam_edge_sign(key, 32, 1700000000, 0, A, V, "index.m3u8", NULL, buf,
                     sizeof(buf)) == 0, "sign");
    ok(parse(buf, &u) == MAM_EDGE_OK, "a signed path parses");
    ok(mam_edge_verify(key, 32, &u, NULL), "... and verifies");
    ok(!mam_edge_verify((const unsigned char *) "another key of 32 bytes........", 32,
                        &u, NULL), "... not with another key");
    ok(!mam_edge_verify(key, 32, &u, "127.0.0.1"), "... not when IP-bound");
    u.exp++;
    u.exp_text[9]++;
    ok(!mam_edge_verify(key, 32, &u, NULL), "... not with another expiry");

    ok(mam_edge_sign(key, 32, 1700000000, 0, A, V, "index.m3u8", "10.0.0.1", buf,
                     sizeof(buf)) == 0 && parse(buf, &u) == MAM_EDGE_OK
       && mam_edge_verify(key, 32, &u, "10.0.0.1")
       && !mam_edge_verify(key, 32, &u, "10.0.0.2")
       && !mam_edge_verify(key, 32, &u, NULL), "an IP-bound signature");

    /* revocation epochs: "{exp}.{epoch}", signed as written */
    ok(mam_edge_sign(key, 32, 1700000000, 7, A, V, "index.m3u8", NULL, buf,
                     sizeof(buf)) == 0
       && strncmp(buf, "1700000000.7/", 13) == 0, "an epoch is signed in");
    ok(parse(buf, &u) == MAM_EDGE_OK && u.epoch == 7 && u.exp == 1700000000
       && mam_edge_verify(key, 32, &u, NULL), "... parses and verifies");
    buf[11] = '8';
    ok(parse(buf, &u) == MAM_EDGE_OK && u.epoch == 8
       && !mam_edge_verify(key, 32, &u, NULL), "a changed epoch: 403");
    memmove(buf + 10, buf + 12, strlen(buf + 12) + 1);
    ok(parse(buf, &u) == MAM_EDGE_OK && u.epoch == 0
       && !mam_edge_verify(key, 32, &u, NULL), "an epoch left out: 403");
    ok(mam_edge_sign(key, 32, 1700000000, 0, A, V, "index.m3u8", NULL, buf,
                     sizeof(buf)) == 0 && strncmp(buf, "1700000000/", 11) == 0,
       "epoch 0 is written as nothing (edge.md's URL)");
    ok(mam_edge_sign(key, 32, 1700000000, MAM_EDGE_EPOCH_MAX + 1, A, V,
                     "index.m3u8", NULL, buf, sizeof(buf)) == -1,
       "an epoch over the maximum is not signed");
    {
        static const char  *bad_epochs[] = {
            "1700000000./", "1700000000.0/", "1700000000.01/",
            "1700000000.1234567890/", "1700000000.x/", "1700000000.1.2/",
            ".5/"
        };
        for (i = 0; i < sizeof(bad_epochs) / sizeof(bad_epochs[0]); i++) {
            snprintf(path, sizeof(path), "%s" SIG "/" A "/" V "/a.ts",
                     bad_epochs[i]);
            ok(parse(path, &u) == MAM_EDGE_BAD, "epoch segment %s: 400",
               bad_epochs[i]);
        }
    }

    ok(strcmp(mam_edge_content_type("a/index.m3u8", 12),
              "application/vnd.apple.mpegurl") == 0, "m3u8 type");
    ok(strcmp(mam_edge_content_type("a/s.ts", 6), "video/mp2t") == 0, "ts type");
    ok(strcmp(mam_edge_content_type("poster.jpg", 10), "image/jpeg") == 0, "jpg type");
    ok(mam_edge_content_type("x.bin", 5) == NULL, "unknown type");

    /* download URLs */
    {
        mam_edge_dl_t  d;
        char           name[800], cd[1200];

        ok(mam_edge_name_encode("Reel 1 \xc3\xa9t\xc3\xa9 \"final\".mov", name,
                                sizeof(name)) > 0
           && strcmp(name, "Reel%201%20%C3%A9t%C3%A9%20_final_.mov") == 0,
           "a file name is percent-encoded, quotes made '_'");
        ok(mam_edge_name_encode("a/b\\c\x01.mp4", name, sizeof(name)) > 0
           && strcmp(name, "a_b_c_.mp4") == 0, "slashes and controls made '_'");
        ok(mam_edge_name_encode("..", name, sizeof(name)) > 0
           && strcmp(name, "download") == 0, "\"..\" becomes download");
        ok(mam_edge_disposition("Reel%201%20%C3%A9t%C3%A9.mov", cd, sizeof(cd))
           == 0 && strcmp(cd, "attachment; filename=\"Reel 1 __t__.mov\"; "
                              "filename*=UTF-8''Reel%201%20%C3%A9t%C3%A9.mov") == 0,
           "Content-Disposition: an ASCII filename and the UTF-8 filename*");

        ok(mam_edge_name_encode("Reel 1.mov", name, sizeof(name)) > 0
           && mam_edge_dl_sign(key, 32, 1700000000, name,
                               "masters/" A "/v1/original.mov", NULL, buf,
                               sizeof(buf)) == 0
           && strncmp(buf, "d/1700000000/", 13) == 0, "a download URL signs");
        ok(mam_edge_dl_parse(buf + 2, strlen(buf + 2), &d) == MAM_EDGE_OK
           && strcmp(d.name, "Reel%201.mov") == 0
           && strcmp(d.key, "masters/" A "/v1/original.mov") == 0
           && mam_edge_dl_verify(key, 32, &d, NULL), "... parses and verifies");
        ok(!mam_edge_dl_verify(key, 32, &d, "10.0.0.1"), "... not with an IP");
        ok(parse(buf + 2, &u) == MAM_EDGE_BAD
           || !mam_edge_verify(key, 32, &u, NULL),
           "... and is no playback URL");

        snprintf(path, sizeof(path), "1700000000.3/%s", buf + 13);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_BAD,
           "a download URL carries no epoch: 400");

        snprintf(path, sizeof(path), "%s", buf + 2);
        path[strlen(path) - 5] = 'x';
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_OK
           && !mam_edge_dl_verify(key, 32, &d, NULL), "another file: refused");
        snprintf(path, sizeof(path), "1700000000/%.43s/Other.mov/masters/" A
                 "/v1/original.mov", buf + 13);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_OK
           && !mam_edge_dl_verify(key, 32, &d, NULL), "another name: refused");
        snprintf(path, sizeof(path), "1700000000/%.43s/a.mov/uploads/x/y", buf + 13);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_BAD,
           "an uploads/ key: 400");
        snprintf(path, sizeof(path), "1700000000/%.43s/a%%22b/masters/x", buf + 13);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_BAD,
           "a quote in the name: 400");
        snprintf(path, sizeof(path), "1700000000/%.43s/a.mov/masters/../x", buf + 13);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_BAD,
           "a .. segment in the key: 400");

        /* a playback signature does not sign a download */
        ok(mam_edge_sign(key, 32, 1700000000, 0, A, V, "index.m3u8", NULL, buf,
                         sizeof(buf)) == 0, "a playback URL");
        snprintf(path, sizeof(path), "1700000000/%.43s/x.mov/previews/" A "/" V
                 "/index.m3u8", buf + 11);
        ok(mam_edge_dl_parse(path, strlen(path), &d) == MAM_EDGE_OK
           && !mam_edge_dl_verify(key, 32, &d, NULL),
           "its signature does not sign a download");
    }

    return done_testing();
}

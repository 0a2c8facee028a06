/* libmam's small helpers: the ISO-8601 times the API's filters take (the
 * asset list's created_from/created_to, the audit log's from/to). */
#include <string.h>

#include "mam_util.h"
#include "tap.h"

static int
valid(const char *s)
{
    return mam_time_valid(s, strlen(s));
}

int
main(void)
{
    static const char  *good[] = {
        "2026-12-01", "2024-02-29", "2000-02-29", "2026-12-01T10:57Z",
        "2026-12-01T10:57:42+00:00", "2026-12-01T10:57:42Z",
        "2026-12-01T10:57:42.1Z", "2026-12-01T10:57:42.123456+01:00",
        "2026-12-01T10:57:42.123456 01:00", "2026-12-01T23:59:59-05:30",
        "0001-01-01"
    };
    static const char  *bad[] = {
        "", "2026", "2026-1-01", "2026-12-01T10:57", "2026-12-01T10:57:42",
        "2026-12-01 10:57:42Z", "2026-12-01T10:57:42.5", "2026-13-01",
        "2026-00-10", "2026-02-29",
        "1900-02-29", "2026-04-31", "2026-12-00", "0000-01-01",
        "2026-12-01T", "2026-12-01T24:00", "2026-12-01T10:60",
        "2026-12-01T10:57:60", "2026-12-01T10:57:42.", "2026-12-01T10:57:42.1234567",
        "2026-12-01T10:57:42Y", "2026-12-01T10:57:42+1:00",
        "2026-12-01T10:57:42Z+01:00",
        "2026-12-01T10:57:42+15:00", "2026-12-01T10:57:42Z ", "2026-12-01x",
        "2026-12-01T10:57:42+01:00:00", "today", "2026-12-01;DROP"
    };
    size_t  i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(valid(good[i]), "\"%s\" is a time", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!valid(bad[i]), "\"%s\" is not", bad[i]);
    }
    ok(!mam_time_valid("2026-12-01T10:57Z", 13), "a cut time is not");

    return done_testing();
}

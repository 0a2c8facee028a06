/* libmam/mam_annotation: drawings on a frame, checked and written out in
 * their canonical form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mam_annotation.h"
#include "tap.h"

static char  msg[256];

/* text checked with the module's limit: 0 and *out, -1 and msg, -2 when
 * jansson refuses the text itself (NaN, Infinity, overflow) */
static int
check_limit(const char *text, size_t max, char **out)
{
    int       rc;
    json_t   *j;
    json_error_t  err;

    *out = NULL;
    msg[0] = '\0';

    /* as hostile as a parser lets through: NULs in strings, any value */
    j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY
                         | JSON_ALLOW_NUL, &err);
    if (j == NULL) {
        return -2;
    }

    rc = mam_annotation_canonical(j, max, out, msg, sizeof(msg));
    json_decref(j);

    return rc;
}

static int
check(const char *text, char **out)
{
    return check_limit(text, MAM_ANNOTATION_BYTES_MAX, out);
}

/* refused with a message that starts with prefix */
static void
refused(const char *text, const char *prefix, const char *what)
{
    char  *out;
    int    rc;

    rc = check(text, &out);
    ok(rc == -1 && strncmp(msg, prefix, strlen(prefix)) == 0,
       "%s: refused (%s)", what, msg);
    free(out);
}

static void
canonical(void)
{
    char  *out;

    ok(check("{\"shapes\":[{\"type\":\"arrow\",\"points\":[[0.1,0.2],[1,0]],"
             "\"color\":\"#FF00aa\",\"width\":0.005}]}", &out) == 0
       && strcmp(out, "{\"shapes\":[{\"type\":\"arrow\",\"points\":"
                 "[[0.1,0.2],[1.0,0.0]],\"color\":\"#ff00aa\","
                 "\"width\":0.005}]}") == 0,
       "an arrow: integers as reals, the colour in lower case (%s)",
       out ? out : msg);
    free(out);

    ok(check("{\"shapes\":[{\"width\":0.01,\"color\":\"#000000\","
             "\"points\":[[0.123456789,0.99996]],\"type\":\"freehand\"}]}",
             &out) == 0
       && strcmp(out, "{\"shapes\":[{\"type\":\"freehand\",\"points\":"
                 "[[0.1235,1.0]],\"color\":\"#000000\",\"width\":0.01}]}")
          == 0,
       "keys in one order, coordinates to 4 decimals (%s)", out ? out : msg);
    free(out);

    ok(check("{\"shapes\":[{\"type\":\"rectangle\",\"points\":[[-0.0,0],"
             "[0.5,0.5]],\"color\":\"#abcdef\",\"width\":0.1},"
             "{\"type\":\"ellipse\",\"points\":[[0.2,0.2],[0.3,0.4]],"
             "\"color\":\"#123456\",\"width\":0.001},"
             "{\"type\":\"line\",\"points\":[[0,1],[1,0]],"
             "\"color\":\"#ffffff\",\"width\":0.02}]}", &out) == 0
       && strstr(out, "[[0.0,0.0],[0.5,0.5]]") != NULL
       && strstr(out, "\"ellipse\"") && strstr(out, "\"line\""),
       "rectangle, ellipse and line; -0 written as 0 (%s)", out ? out : msg);
    free(out);
}

static void
shapes(void)
{
    refused("[]", "annotation: must be an object", "an array");
    refused("\"arrow\"", "annotation: must be an object", "a string");
    refused("{}", "annotation.shapes: must be an array of 1..64", "no shapes");
    refused("{\"shapes\":[]}", "annotation.shapes: must be an array",
            "an empty list");
    refused("{\"shapes\":{}}", "annotation.shapes: must be an array",
            "shapes as an object");
    refused("{\"shapes\":[{\"type\":\"arrow\",\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01}],\"v\":2}",
            "annotation: unknown key", "an unknown top-level key");
    refused("{\"shapes\":[1]}", "annotation.shapes[0]: must be an object",
            "a number as a shape");
    refused("{\"shapes\":[{\"type\":\"circle\",\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01}]}",
            "annotation.shapes[0].type: must be arrow", "a circle");
    refused("{\"shapes\":[{\"type\":\"Arrow\",\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01}]}",
            "annotation.shapes[0].type:", "a type in another case");
    refused("{\"shapes\":[{\"type\":\"arrow\\u0000x\",\"points\":[[0,0],"
            "[1,1]],\"color\":\"#000000\",\"width\":0.01}]}",
            "annotation.shapes[0].type:", "a type with a NUL");
    refused("{\"shapes\":[{\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01}]}",
            "annotation.shapes[0].type:", "no type");
    refused("{\"shapes\":[{\"type\":\"arrow\",\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01,\"fill\":\"#ffffff\"}]}",
            "annotation.shapes[0]: unknown key \"fill\"", "an unknown key");
    refused("{\"shapes\":[{\"type\":\"arrow\",\"points\":[[0,0],[1,1]],"
            "\"color\":\"#000000\",\"width\":0.01,\"\\u00e9\\n\":1}]}",
            "annotation.shapes[0]: unknown key (", "an odd unknown key, "
            "not echoed");
}

static void
values(void)
{
    char    buf[512];
    size_t  i;
    const char  *bad_colors[] = {
        "\"red\"", "\"#fff\"", "\"#ff00zz\"", "\"ff00aa0\"", "\"#ff00aa \"",
        "1", "null", NULL
    };
    const char  *bad_widths[] = {
        "0", "0.0009", "0.2", "-1", "\"0.01\"", "null", "1e300", NULL
    };
    const char  *bad_points[] = {
        "[[0,0]]", "[[0,0],[1,1],[0.5,0.5]]", "[[0,0],[1.0001,1]]",
        "[[0,0],[-0.1,1]]", "[[0,0],[1e300,1]]", "[[0,0],[-1e300,1]]",
        "[[0,0],[1]]", "[[0,0],[1,1,1]]", "[[0,0],{\"x\":1,\"y\":1}]",
        "[[0,0],[\"1\",1]]", "[[0,0],[true,1]]", "[[0,0],null]",
        "\"0,0,1,1\"", "[]", NULL
    };
    char  *out;

    for (i = 0; bad_colors[i]; i++) {
        snprintf(buf, sizeof(buf), "{\"shapes\":[{\"type\":\"line\","
                 "\"points\":[[0,0],[1,1]],\"color\":%s,\"width\":0.01}]}",
                 bad_colors[i]);
        refused(buf, "annotation.shapes[0].color: must be \"#rrggbb\"",
                bad_colors[i]);
    }

    for (i = 0; bad_widths[i]; i++) {
        snprintf(buf, sizeof(buf), "{\"shapes\":[{\"type\":\"line\","
                 "\"points\":[[0,0],[1,1]],\"color\":\"#000000\","
                 "\"width\":%s}]}", bad_widths[i]);
        refused(buf, "annotation.shapes[0].width: must be a number",
                bad_widths[i]);
    }

    for (i = 0; bad_points[i]; i++) {
        snprintf(buf, sizeof(buf), "{\"shapes\":[{\"type\":\"arrow\","
                 "\"points\":%s,\"color\":\"#000000\",\"width\":0.01}]}",
                 bad_points[i]);
        refused(buf, "annotation.shapes[0].points", bad_points[i]);
    }

    /* not JSON at all: jansson refuses them before any check */
    ok(check("{\"shapes\":[{\"type\":\"line\",\"points\":[[0,0],[NaN,1]],"
             "\"color\":\"#000000\",\"width\":0.01}]}", &out) == -2,
       "NaN is not JSON");
    ok(check("{\"shapes\":[{\"type\":\"line\",\"points\":[[0,0],[Infinity,1]"
             "],\"color\":\"#000000\",\"width\":0.01}]}", &out) == -2,
       "Infinity is not JSON");
    ok(check("{\"shapes\":[{\"type\":\"line\",\"points\":[[0,0],[1e400,1]],"
             "\"color\":\"#000000\",\"width\":0.01}]}", &out) == -2,
       "1e400 overflows: refused by the parser");
}

/* a freehand stroke of n points */
static char *
stroke(size_t n)
{
    size_t  i, len;
    char   *s, *p;

    len = 128 + n * 24;
    s = malloc(len);
    p = s + sprintf(s, "{\"type\":\"freehand\",\"color\":\"#ff0000\","
                       "\"width\":0.004,\"points\":[");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s[0.%04zu,0.%04zu]", i ? "," : "", i % 10000,
                     (i * 7) % 10000);
    }
    sprintf(p, "]}");

    return s;
}

static void
limits(void)
{
    char    *one, *big, *out, *p;
    size_t   i;
    int      rc;

    one = stroke(MAM_ANNOTATION_POINTS_MAX);
    big = malloc(strlen(one) + 64);
    sprintf(big, "{\"shapes\":[%s]}", one);
    rc = check(big, &out);
    ok(rc == 0, "a stroke of %d points is fine (%s)",
       MAM_ANNOTATION_POINTS_MAX, rc ? msg : "");
    free(out);
    free(big);
    free(one);

    one = stroke(MAM_ANNOTATION_POINTS_MAX + 1);
    big = malloc(strlen(one) + 64);
    sprintf(big, "{\"shapes\":[%s]}", one);
    ok(check(big, &out) == -1
       && strstr(msg, "freehand takes an array of 1..1000 points"),
       "a stroke of 1001 points is refused (%s)", msg);
    free(big);
    free(one);

    /* three strokes of 1000: the third passes the total */
    one = stroke(MAM_ANNOTATION_POINTS_MAX);
    big = malloc(3 * strlen(one) + 64);
    p = big + sprintf(big, "{\"shapes\":[");
    for (i = 0; i < 3; i++) {
        p += sprintf(p, "%s%s", i ? "," : "", one);
    }
    sprintf(p, "]}");
    ok(check(big, &out) == -1
       && strstr(msg, "annotation: at most 2000 points in all its shapes"),
       "3000 points in all are refused (%s)", msg);
    free(big);

    /* two strokes of 1000: within the counts, beyond a small byte limit */
    big = malloc(2 * strlen(one) + 64);
    sprintf(big, "{\"shapes\":[%s,%s]}", one, one);
    ok(check(big, &out) == 0 && strlen(out) <= MAM_ANNOTATION_BYTES_MAX,
       "2000 points fit the byte limit (%zu bytes)", out ? strlen(out) : 0);
    free(out);
    ok(check_limit(big, 1024, &out) == -1
       && strstr(msg, "annotation: at most 1024 bytes"),
       "a canonical text over the limit is refused (%s)", msg);
    free(big);
    free(one);

    /* 64 shapes fine, 65 not */
    big = malloc(65 * 120 + 64);
    p = big + sprintf(big, "{\"shapes\":[");
    for (i = 0; i < 65; i++) {
        p += sprintf(p, "%s{\"type\":\"line\",\"points\":[[0,0],[1,1]],"
                     "\"color\":\"#000000\",\"width\":0.01}", i ? "," : "");
    }
    sprintf(p, "]}");
    ok(check(big, &out) == -1
       && strstr(msg, "annotation.shapes: must be an array of 1..64"),
       "65 shapes are refused (%s)", msg);
    free(big);
}

int
main(void)
{
    canonical();
    shapes();
    values();
    limits();

    return done_testing();
}

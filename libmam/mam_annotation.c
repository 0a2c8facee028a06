/*
 * Drawings on a comment's frame (see mam_annotation.h).  The walk takes
 * nothing on trust: every container's size is checked before it is
 * iterated, every key is known, every number is compared against its range
 * in a form that NaN fails, and the answer is built anew from the values
 * read, so nothing of the client's text survives but what was checked.
 */
#include "mam_annotation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char  *mam_annotation_shapes[] = {
    "arrow", "line", "rectangle", "ellipse", "freehand", NULL
};

static const char  *mam_annotation_keys[] = {
    "type", "points", "color", "width", NULL
};


/* a number in [min, max] (NaN is in no range): 0 with *v, -1 otherwise */
static int
mam_annotation_number(json_t *j, double min, double max, double *v)
{
    double  d;

    if (!json_is_number(j)) {
        return -1;
    }

    d = json_number_value(j);
    if (!(d >= min && d <= max)) {
        return -1;
    }

    *v = d;
    return 0;
}


/* v (0 or more) to 1/10000, without libm; -0 becomes 0 */
static double
mam_annotation_round(double v)
{
    long long  n;

    n = (long long) (v * 10000.0 + 0.5);

    return (double) n / 10000.0 + 0.0;
}


/* "#rrggbb" in lower case, or -1 */
static int
mam_annotation_color(json_t *j, char out[8])
{
    size_t       i;
    const char  *s;

    if (!json_is_string(j) || json_string_length(j) != 7) {
        return -1;
    }

    s = json_string_value(j);
    if (s[0] != '#') {
        return -1;
    }

    out[0] = '#';
    for (i = 1; i < 7; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            out[i] = s[i];
        } else if (s[i] >= 'a' && s[i] <= 'f') {
            out[i] = s[i];
        } else if (s[i] >= 'A' && s[i] <= 'F') {
            out[i] = (char) (s[i] - 'A' + 'a');
        } else {
            return -1;
        }
    }
    out[7] = '\0';

    return 0;
}


static int
mam_annotation_known(const char *key, const char **list)
{
    size_t  i;

    for (i = 0; list[i]; i++) {
        if (strcmp(key, list[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the points of shape i of type: a new array, or NULL with msg; *total
 * counts every shape's points against MAM_ANNOTATION_TOTAL_MAX */
static json_t *
mam_annotation_points(json_t *j, size_t i, const char *type, size_t *total,
    char *msg, size_t size)
{
    size_t   n, k, min, max;
    double   x, y;
    json_t  *out, *p, *xy;

    if (strcmp(type, "freehand") == 0) {
        min = 1;
        max = MAM_ANNOTATION_POINTS_MAX;
    } else {
        min = 2;
        max = 2;
    }

    n = json_is_array(j) ? json_array_size(j) : 0;
    if (!json_is_array(j) || n < min || n > max) {
        if (min == max) {
            snprintf(msg, size, "annotation.shapes[%zu].points: %s takes "
                     "an array of %zu points", i, type, min);
        } else {
            snprintf(msg, size, "annotation.shapes[%zu].points: %s takes "
                     "an array of %zu..%zu points", i, type, min, max);
        }
        return NULL;
    }

    if (*total + n > MAM_ANNOTATION_TOTAL_MAX) {
        snprintf(msg, size, "annotation: at most %d points in all its shapes",
                 MAM_ANNOTATION_TOTAL_MAX);
        return NULL;
    }
    *total += n;

    out = json_array();
    if (out == NULL) {
        snprintf(msg, size, "out of memory");
        return NULL;
    }

    for (k = 0; k < n; k++) {
        p = json_array_get(j, k);

        if (!json_is_array(p) || json_array_size(p) != 2
            || mam_annotation_number(json_array_get(p, 0), 0, 1, &x) != 0
            || mam_annotation_number(json_array_get(p, 1), 0, 1, &y) != 0)
        {
            snprintf(msg, size, "annotation.shapes[%zu].points[%zu]: must "
                     "be [x, y], two numbers from 0 to 1", i, k);
            json_decref(out);
            return NULL;
        }

        xy = json_pack("[ff]", mam_annotation_round(x),
                       mam_annotation_round(y));
        if (xy == NULL || json_array_append_new(out, xy) != 0) {
            snprintf(msg, size, "out of memory");
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


/* shape i: a new object in the canonical form, or NULL with msg */
static json_t *
mam_annotation_shape(json_t *j, size_t i, size_t *total, char *msg,
    size_t size)
{
    char         color[8];
    double       width;
    json_t      *points, *out, *v;
    const char  *key, *type;

    if (!json_is_object(j)) {
        snprintf(msg, size, "annotation.shapes[%zu]: must be an object", i);
        return NULL;
    }

    json_object_foreach(j, key, v) {
        if (!mam_annotation_known(key, mam_annotation_keys)) {
            /* the key is the client's: printed only when it is short and
             * plain, so a message never carries odd bytes */
            if (strlen(key) <= 32 && strspn(key, "abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_") == strlen(key))
            {
                snprintf(msg, size, "annotation.shapes[%zu]: unknown key "
                         "\"%s\" (type, points, color and width only)",
                         i, key);
            } else {
                snprintf(msg, size, "annotation.shapes[%zu]: unknown key "
                         "(type, points, color and width only)", i);
            }
            return NULL;
        }
    }

    v = json_object_get(j, "type");
    type = json_string_value(v);
    if (type == NULL
        || strlen(type) != json_string_length(v)
        || !mam_annotation_known(type, mam_annotation_shapes))
    {
        snprintf(msg, size, "annotation.shapes[%zu].type: must be arrow, "
                 "line, rectangle, ellipse or freehand", i);
        return NULL;
    }

    if (mam_annotation_color(json_object_get(j, "color"), color) != 0) {
        snprintf(msg, size, "annotation.shapes[%zu].color: must be "
                 "\"#rrggbb\"", i);
        return NULL;
    }

    if (mam_annotation_number(json_object_get(j, "width"),
                              MAM_ANNOTATION_WIDTH_MIN,
                              MAM_ANNOTATION_WIDTH_MAX, &width)
        != 0)
    {
        snprintf(msg, size, "annotation.shapes[%zu].width: must be a number "
                 "from %g to %g (a fraction of the picture's width)", i,
                 MAM_ANNOTATION_WIDTH_MIN, MAM_ANNOTATION_WIDTH_MAX);
        return NULL;
    }

    points = mam_annotation_points(json_object_get(j, "points"), i, type,
                                   total, msg, size);
    if (points == NULL) {
        return NULL;
    }

    /* "o" steals points, also when the pack fails */
    out = json_pack("{s:s, s:o, s:s, s:f}", "type", type, "points", points,
                    "color", color, "width", mam_annotation_round(width));
    if (out == NULL) {
        snprintf(msg, size, "out of memory");
    }

    return out;
}


int
mam_annotation_canonical(json_t *in, size_t max_bytes, char **out,
    char *msg, size_t size)
{
    char        *text;
    size_t       i, n, total;
    json_t      *shapes, *list, *shape, *top;
    const char  *key;
    json_t      *v;

    *out = NULL;

    if (!json_is_object(in)) {
        snprintf(msg, size, "annotation: must be an object {\"shapes\": "
                 "[...]} or null");
        return -1;
    }

    json_object_foreach(in, key, v) {
        if (strcmp(key, "shapes") != 0) {
            snprintf(msg, size, "annotation: unknown key (shapes only)");
            return -1;
        }
    }

    shapes = json_object_get(in, "shapes");
    n = json_is_array(shapes) ? json_array_size(shapes) : 0;
    if (n < 1 || n > MAM_ANNOTATION_SHAPES_MAX) {
        snprintf(msg, size, "annotation.shapes: must be an array of 1..%d "
                 "shapes", MAM_ANNOTATION_SHAPES_MAX);
        return -1;
    }

    list = json_array();
    if (list == NULL) {
        snprintf(msg, size, "out of memory");
        return -1;
    }

    total = 0;
    for (i = 0; i < n; i++) {
        shape = mam_annotation_shape(json_array_get(shapes, i), i, &total,
                                     msg, size);
        if (shape == NULL || json_array_append_new(list, shape) != 0) {
            json_decref(list);
            return -1;
        }
    }

    top = json_pack("{s:o}", "shapes", list);
    if (top == NULL) {
        snprintf(msg, size, "out of memory");
        return -1;
    }

    text = json_dumps(top, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(top);

    if (text == NULL) {
        snprintf(msg, size, "out of memory");
        return -1;
    }

    if (strlen(text) > max_bytes) {
        snprintf(msg, size, "annotation: at most %zu bytes once written out "
                 "(coordinates to 4 decimals)", max_bytes);
        free(text);
        return -1;
    }

    *out = text;
    return 0;
}

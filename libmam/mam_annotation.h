/*
 * Drawings on a comment's frame (issue 21): a comment's `annotation`, as
 * the client sends it, checked strictly and written out again in one
 * canonical form, which is what is stored (jsonb) and what the API
 * answers: never the client's bytes.  nginx-free (jansson only), so it is
 * unit-tested and fuzzable on its own.
 *
 *   {"shapes": [{"type": "arrow" | "line" | "rectangle" | "ellipse"
 *                        | "freehand",
 *                "points": [[x, y], ...],
 *                "color": "#rrggbb",
 *                "width": w}, ...]}
 *
 * x and y are fractions of the picture (0..1, from its top left corner),
 * w is the stroke's width as a fraction of the picture's width.  arrow and
 * line take 2 points (from, to), rectangle and ellipse 2 (opposite corners
 * of the box), freehand 1..MAM_ANNOTATION_POINTS_MAX.  Every key is
 * required and no other is taken; numbers are finite JSON numbers in
 * range (jansson refuses NaN, Infinity and overflowing literals when it
 * parses), written out rounded to 1/10000 (under a pixel of an 8K
 * picture), so the canonical text is bounded by the counts below.
 */
#ifndef MAM_ANNOTATION_H
#define MAM_ANNOTATION_H

#include <stddef.h>

#include <jansson.h>

#define MAM_ANNOTATION_SHAPES_MAX   64      /* shapes in one annotation */
#define MAM_ANNOTATION_POINTS_MAX   1000    /* points of one shape */
#define MAM_ANNOTATION_TOTAL_MAX    2000    /* points of all its shapes */
#define MAM_ANNOTATION_BYTES_MAX    32768   /* its canonical text */
#define MAM_ANNOTATION_WIDTH_MIN    0.001
#define MAM_ANNOTATION_WIDTH_MAX    0.1

/*
 * in (the client's value, not null) checked: 0 with *out the canonical
 * text (malloc'd, NUL-ended, at most max_bytes; free() it), or -1 with a
 * 400's message in msg ("annotation.shapes[2].color: ...").
 */
int mam_annotation_canonical(json_t *in, size_t max_bytes, char **out,
    char *msg, size_t size);

#endif

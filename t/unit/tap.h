/* A minimal TAP producer for the C unit tests (run under prove). */
#ifndef MAM_TAP_H
#define MAM_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {                                                   \
        int ok_ = (cond) ? 1 : 0;                                            \
        tap_n++;                                                             \
        if (!ok_) tap_failed++;                                              \
        printf("%sok %d - ", ok_ ? "" : "not ", tap_n);                      \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!ok_) printf("#   failed at %s line %d\n", __FILE__, __LINE__);  \
    } while (0)

#define done_testing() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif

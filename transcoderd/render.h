/*
 * One confined renderer process per attempt (render.c): the parent side
 * that starts and watches it, and the child side that renders.
 */
#ifndef TD_RENDER_H
#define TD_RENDER_H

#include <signal.h>

#include "transcode.h"

typedef struct {
    int                          stall_timeout;   /* seconds */
    int                          job_timeout;     /* seconds */
    long                         memory_mb;       /* RLIMIT_AS, 0 none */
    long                         cpu_seconds;     /* RLIMIT_CPU, 0 none */
    volatile sig_atomic_t       *stop;            /* shutdown */

    /* about every 250 ms: the progress and when the child last advanced
     * (CLOCK_MONOTONIC seconds) */
    void                       (*beat)(void *data, double fraction,
                                       double advanced_at);
    void                        *beat_data;

    /* while the child runs, after each beat: the latest ladder shape it
     * told (td_transcode_t's outputs, parsed but unchecked; NULL before
     * the first), for publishing progressively (progressive.c); on the
     * calling thread, so the watchdog waits while it works */
    void                       (*watch)(void *data, json_t *outputs);
    void                        *watch_data;
} td_render_opts_t;

/* renders t (input, outdir, job, mode, preset, threads, limits) in a
 * child; results as td_transcode(): 0 done, -1 with error, permanent */
int td_render(td_transcode_t *t, const td_render_opts_t *o);

/* transcoderd -R SPEC: the child; never returns */
int td_render_child(const char *spec) __attribute__((noreturn));

#endif

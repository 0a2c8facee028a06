/*
 * One job's media work: probe the master, render the HLS ladder of
 * pipeline.md into a folder, report metadata and renditions.
 */
#ifndef TD_TRANSCODE_H
#define TD_TRANSCODE_H

#include <jansson.h>
#include <libavformat/avio.h>

#include "td.h"
#include "input.h"

typedef struct {
    const char         *input;       /* the master file */
    const char         *outdir;      /* an empty folder to fill */
    const char         *job;         /* for the log */
    td_encoder_mode_t   mode;
    const char         *preset;
    int                 threads;     /* encoder threads in all */
    const td_limits_t  *limits;      /* what a master may be */
    AVIOInterruptCB     interrupt;   /* ends a blocked libav* call */

    /* counters a watchdog reads (atomic): bytes read from the master,
     * packets written to the outputs */
    int64_t             read_bytes;
    int64_t             packets;

    /* called from the decoding thread, at most about once a second;
     * returning non-zero aborts the job (shutdown) */
    int               (*progress)(void *data, double fraction);
    void               *progress_data;

    /* once per rendering pass, when the ladder's shape is known (every
     * rendition's name, size and CODECS, the audio, the frame rate): a
     * JSON object for the daemon's progressive publishing (progressive.c),
     * with "pass" counting from 0 (a GPU pass that failed is rendered
     * again with libx264, into an emptied folder); from the decoding
     * thread */
    void              (*outputs)(void *data, const char *json);

    /* results */
    json_t             *metadata;    /* pipeline.md's fields + encoder */
    json_t             *renditions;  /* [{name, width, height, bandwidth,
                                        download}] */
    char                error[512];
    int                 permanent;   /* retrying cannot help */
} td_transcode_t;

/* 0 done, -1 failed (error, permanent set) */
int td_transcode(td_transcode_t *t);

/* at start: can h264_nvenc open, is there a CUDA device? (logged) */
void td_transcode_probe_gpu(int *nvenc, int *cuda);

/* compiles the CUDA filters' kernels into CUDA_CACHE_PATH with synthetic
 * frames (the daemon, before any renderer); 0 or -1 with err */
int td_transcode_warm_gpu(char *err, size_t len);
void td_transcode_release_gpu(void);

#endif

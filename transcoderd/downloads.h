/*
 * A rendition as one MP4 to download (downloads/NAME.mp4 of the preview
 * folder), remuxed from the segments the renderer wrote.
 */
#ifndef TD_DOWNLOADS_H
#define TD_DOWNLOADS_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avio.h>

#include "iframes.h"

/* outdir/NAME/segment_*.ts (+ outdir/audio/segment_*.ts when audio) into
 * outdir/downloads/NAME.mp4, indexing the video's keyframes into index
 * (iframes.h) when not NULL; packets counts what is written (the
 * watchdog's progress).  0, or -1 with error (the file removed) */
int td_download_mp4(const char *outdir, const char *rendition, int audio,
    const AVIOInterruptCB *interrupt, td_iframes_t *index, int64_t *packets,
    char *error, size_t len);

#endif

/*
 * Scrub thumbnails: sprite sheets (thumbs/sheet_NNN.jpg) and the WebVTT
 * track that maps each interval of the video to a tile of a sheet
 * (thumbnails.vtt, "#xywh=x,y,w,h"), from the ladder's own decode: a
 * branch of its filter graph (framestep, scale, tile) feeds the sheets.
 */
#ifndef TD_THUMBS_H
#define TD_THUMBS_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

/*
 * A tile fits a 160x160 box with the display aspect: 160x90 for 16:9,
 * 90x160 for 9:16 (a scrubbing preview, the size the players use).  A
 * sheet is at most 10x10 tiles (1600x900 for 16:9, about 100-200 KiB as
 * a JPEG), and a version has at most 500 tiles in all: the interval is
 * a whole number of seconds, at least 1, chosen from the duration so
 * that the count stays under that bound (2 s for 10 minutes, 8 s for an
 * hour).  Without a declared duration the interval is 10 s; tiles past
 * the bound are not written.
 */
#define TD_THUMB_BOX         160
#define TD_THUMB_COLUMNS     10
#define TD_THUMB_ROWS        10
#define TD_THUMB_MAX         500
#define TD_THUMB_UNKNOWN_SEC 10

typedef struct {
    int         width, height;    /* a tile */
    int         columns, rows;    /* a sheet's layout */
    int         every;            /* a tile every so many frames */
    AVRational  rate;             /* of the constant-rate stream */
    int         sheets;           /* written so far */
} td_thumbs_t;

/* the geometry for a display size, a frame rate and a duration (0 when
 * unknown) */
void td_thumbs_plan(td_thumbs_t *th, int disp_w, int disp_h, AVRational rate,
    double duration);

/* the branch of the filter graph from a rendition's frames to sheets
 * (gpu: its frames are CUDA frames, downloaded after the frame step);
 * 0, or -1 when it does not fit */
int td_thumbs_filters(const td_thumbs_t *th, int gpu, char *buf, size_t len);

/* one sheet out of the graph into outdir/thumbs/sheet_NNN.jpg; sheets
 * past the bound are dropped.  0, or -1 with err */
int td_thumbs_sheet(td_thumbs_t *th, const char *outdir, const AVFrame *sheet,
    char *err, size_t len);

/* outdir/thumbnails.vtt for a video of frames frames.  0, or -1 */
int td_thumbs_vtt(const td_thumbs_t *th, const char *outdir, int64_t frames,
    char *err, size_t len);

/* a picture into a baseline JPEG file (yuvj420p, or any format that
 * swscale converts to it).  0, or -1 */
int td_jpeg_save(const AVFrame *frame, const char *path);

#endif

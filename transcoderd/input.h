/*
 * Opening a master: an untrusted file handed to libavformat.  The content
 * never chooses a protocol or a demuxer outside the allow-list, and never
 * opens anything but itself; sizes, counts and rates are bounded.
 */
#ifndef TD_INPUT_H
#define TD_INPUT_H

#include <stdint.h>

#include <libavformat/avformat.h>

/* demuxers for single media files; never playlists or references */
#define TD_INPUT_FORMATS  "mov,matroska,avi,mpegts,mxf,wav,w64,aiff,flac," \
                          "mp3,ogg,aac,ac3,eac3,mpeg,flv,asf,dv,caf"

typedef struct {
    char      formats[512];     /* input_formats: demuxer names, ',' */
    int       max_long_side;    /* max_frame WxH: the larger side ... */
    int       max_short_side;   /* ... and the smaller one */
    int       max_duration;     /* seconds */
    int       max_streams;
    int       max_frame_rate;   /* frames per second */
    int64_t   probe_size;       /* bytes */
    int64_t   analyze_us;       /* analyzeduration, microseconds */
} td_limits_t;

typedef struct {
    int               fd;
    AVIOContext      *pb;
    AVFormatContext  *fc;
    int64_t          *bytes;    /* read from the master so far (atomic) */
    int64_t           own_bytes;
    int               io_errno;  /* a read() that failed: the storage's fault */
} td_input_t;

void td_limits_default(td_limits_t *l);

/* "8192x4320" into the two sides; 0 or -1 */
int td_limits_parse_frame(td_limits_t *l, const char *v);

/* opens path, probes it with the allow-list, reads the stream info and
 * checks the limits.  0 opened; -1 with err set and *permanent (the file's
 * fault) or not (the storage's) */
int td_input_open(td_input_t *in, const char *path, const td_limits_t *l,
    const AVIOInterruptCB *icb, int64_t *bytes, char *err, size_t len,
    int *permanent);

/* a frame of w x h within max_frame (either orientation) */
int td_input_frame_ok(const td_limits_t *l, int w, int h);

void td_input_close(td_input_t *in);

#endif

/*
 * A rendition's I-frame playlist (NAME/iframes.m3u8, RFC 8216
 * EXT-X-I-FRAMES-ONLY): a byte range of each keyframe inside the TS
 * segments, collected while downloads.c reads the segments back (no read
 * of its own).
 */
#ifndef TD_IFRAMES_H
#define TD_IFRAMES_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavutil/rational.h>

/* keyframes come every 2 s of our own encoding: far more than a
 * max_duration's worth is no index worth writing */
#define TD_IFRAMES_MAX  (1 << 20)

typedef struct {
    int      segment;         /* segment_NNN.ts */
    int64_t  offset, size;    /* the byte range, from its PES's first TS
                                 packet to the next PES */
    int64_t  pts;             /* 90 kHz */
} td_iframe_t;

typedef struct {
    td_iframe_t  *e;
    int           n, cap;
    int           open;       /* e[n - 1] waits for its end */
    int64_t       init_size;  /* the tables (PAT, PMT) before segment_000's
                                 first packet; -1 before it */
    int64_t       end_pts;    /* the end of the last picture, 90 kHz */
    int64_t       frame;      /* a frame's duration, 90 kHz */
} td_iframes_t;

/* an empty index for a stream of the given frame rate */
void td_iframes_init(td_iframes_t *x, AVRational rate);
void td_iframes_free(td_iframes_t *x);

/* a packet read from segment_NNN.ts (its pos set by the demuxer).
 * 0, or a negative AVERROR */
int td_iframes_packet(td_iframes_t *x, int segment, const AVPacket *pkt,
    AVRational tb);

/* segment_NNN.ts ended at size bytes */
void td_iframes_segment_end(td_iframes_t *x, int segment, int64_t size);

/* dir/iframes.m3u8; its peak and average bit rates.  0, or -1 with err */
int td_iframes_write(const td_iframes_t *x, const char *dir, int64_t *peak,
    int64_t *avg, char *err, size_t len);

#endif

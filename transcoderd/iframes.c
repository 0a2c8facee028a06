/*
 * I-frame playlists (iframes.h).  The MPEG-TS demuxer gives each packet
 * the position of the TS packet its PES starts in; a keyframe's range runs
 * from there to where the next PES of the segment starts (or the
 * segment's end), so it holds the whole picture and no part of another.
 * The segments carry video only (audio has its own), and each one starts
 * with the same tables (the HLS muxer's MPEG-TS muxer writes them first),
 * which EXT-X-MAP names once: a player can decode any range alone.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "iframes.h"

#define TD_TS_HZ  (AVRational) { 1, 90000 }


void
td_iframes_init(td_iframes_t *x, AVRational rate)
{
    memset(x, 0, sizeof(*x));
    x->init_size = -1;
    x->end_pts = AV_NOPTS_VALUE;
    x->frame = av_rescale_q(1, av_inv_q(rate), TD_TS_HZ);
}


void
td_iframes_free(td_iframes_t *x)
{
    av_freep(&x->e);
    x->n = 0;
    x->cap = 0;
}


int
td_iframes_packet(td_iframes_t *x, int segment, const AVPacket *pkt,
    AVRational tb)
{
    int64_t       ts;
    td_iframe_t  *e, *grown;

    if (pkt->pos < 0) {
        return AVERROR_INVALIDDATA;
    }

    /* the previous keyframe's PES ends where this one starts */
    if (x->open && x->e[x->n - 1].segment == segment) {
        e = &x->e[x->n - 1];
        e->size = pkt->pos - e->offset;
        x->open = 0;
    }

    if (segment == 0 && x->init_size < 0) {
        x->init_size = pkt->pos;
    }

    ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE) {
        return (pkt->flags & AV_PKT_FLAG_KEY) ? AVERROR_INVALIDDATA : 0;
    }
    ts = av_rescale_q(ts, tb, TD_TS_HZ);
    if (x->end_pts == AV_NOPTS_VALUE || ts + x->frame > x->end_pts) {
        x->end_pts = ts + x->frame;
    }

    if (!(pkt->flags & AV_PKT_FLAG_KEY)) {
        return 0;
    }

    if (x->n == x->cap) {
        if (x->cap >= TD_IFRAMES_MAX) {
            return AVERROR(E2BIG);
        }
        grown = av_realloc_array(x->e, x->cap ? x->cap * 2 : 256,
                                 sizeof(*x->e));
        if (grown == NULL) {
            return AVERROR(ENOMEM);
        }
        x->e = grown;
        x->cap = x->cap ? x->cap * 2 : 256;
    }

    e = &x->e[x->n++];
    e->segment = segment;
    e->offset = pkt->pos;
    e->size = 0;
    e->pts = ts;
    x->open = 1;

    return 0;
}


void
td_iframes_segment_end(td_iframes_t *x, int segment, int64_t size)
{
    td_iframe_t  *e;

    if (x->open && x->e[x->n - 1].segment == segment) {
        e = &x->e[x->n - 1];
        e->size = size > e->offset ? size - e->offset : 0;
        x->open = 0;
    }
}


/* the time from keyframe i to the next one (or to the end), in seconds */
static double
td_iframe_duration(const td_iframes_t *x, int i)
{
    int64_t  next;

    next = i + 1 < x->n ? x->e[i + 1].pts : x->end_pts;
    return next > x->e[i].pts ? (next - x->e[i].pts) / 90000.0 : 0;
}


int
td_iframes_write(const td_iframes_t *x, const char *dir, int64_t *peak,
    int64_t *avg, char *err, size_t len)
{
    int       i, target, bad;
    char      path[1300];
    FILE     *f;
    double    d, longest = 0, total = 0;
    int64_t   bytes = 0;

    *peak = 0;
    *avg = 0;

    if (x->n == 0 || x->init_size <= 0 || x->open) {
        snprintf(err, len, "%s: no keyframe to index", dir);
        return -1;
    }

    for (i = 0; i < x->n; i++) {
        d = td_iframe_duration(x, i);
        if (d > longest) {
            longest = d;
        }
        if (d > 0 && x->e[i].size * 8.0 / d > *peak) {
            *peak = (int64_t) (x->e[i].size * 8.0 / d);
        }
        bytes += x->e[i].size;
        total += d;
    }
    *avg = total > 0 ? (int64_t) (bytes * 8.0 / total) : *peak;
    target = (int) ceil(longest);
    if (target < 1) {
        target = 1;
    }

    snprintf(path, sizeof(path), "%s/iframes.m3u8", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, len, "%s: %s", path, strerror(errno));
        return -1;
    }

    /* version 5: EXT-X-MAP in an I-frame playlist (RFC 8216, 7) */
    fprintf(f, "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:%d\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            "#EXT-X-I-FRAMES-ONLY\n"
            "#EXT-X-MAP:URI=\"segment_000.ts\",BYTERANGE=\"%lld@0\"\n",
            target, (long long) x->init_size);

    for (i = 0; i < x->n; i++) {
        fprintf(f, "#EXTINF:%.6f,\n#EXT-X-BYTERANGE:%lld@%lld\n"
                "segment_%03d.ts\n", td_iframe_duration(x, i),
                (long long) x->e[i].size, (long long) x->e[i].offset,
                x->e[i].segment);
    }
    fprintf(f, "#EXT-X-ENDLIST\n");

    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, len, "%s: cannot write", path);
        return -1;
    }
    return 0;
}

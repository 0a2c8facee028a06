/*
 * A rendition as one file to download: its HLS segments and the audio's,
 * remuxed (no decoding, no encoding) into downloads/NAME.mp4 of the
 * preview folder.  The inputs are the renderer's own segments, opened
 * with the MPEG-TS demuxer by name, one file at a time; the two packet
 * streams are merged by decoding time, so memory stays at one packet of
 * each.  The MP4 keeps its index at the end (no second pass over the
 * file): a download is read whole before it is played.
 *
 * The same read of the video's segments indexes their keyframes for the
 * rendition's I-frame playlist (iframes.h).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "downloads.h"

/* segment_NNN.ts: the HLS muxer's names (td_open_mux); a bound, not a
 * count the renderer can reach (max_duration / 6 s) */
#define TD_DL_MAX_SEGMENTS  100000

/* one HLS media playlist's segments, read in order as one packet stream */
typedef struct {
    char              dir[1200];
    int               next;        /* the next segment's number */
    AVFormatContext  *fc;
    const AVIOInterruptCB *interrupt;
    AVPacket         *pkt;         /* the packet read ahead */
    int               have;        /* pkt holds one */
    int               out;         /* its stream in the MP4 */
    td_iframes_t     *index;       /* the keyframes' ranges, or NULL */
} td_seq_t;


static int
td_seq_open_next(td_seq_t *s)
{
    int     err;
    char    path[1300];

    avformat_close_input(&s->fc);
    if (s->next >= TD_DL_MAX_SEGMENTS) {
        return AVERROR_EOF;
    }
    snprintf(path, sizeof(path), "%s/segment_%03d.ts", s->dir, s->next);
    if (access(path, F_OK) != 0) {
        return AVERROR_EOF;
    }
    s->next++;

    s->fc = avformat_alloc_context();
    if (s->fc == NULL) {
        return AVERROR(ENOMEM);
    }
    s->fc->interrupt_callback = *s->interrupt;
    err = avformat_open_input(&s->fc, path, av_find_input_format("mpegts"),
                              NULL);
    if (err < 0) {
        return err;
    }
    if (s->fc->nb_streams != 1) {
        return AVERROR_INVALIDDATA;
    }
    return 0;
}


/* the next packet of the sequence into s->pkt (have = 0 at its end) */
static int
td_seq_read(td_seq_t *s)
{
    int  err;

    s->have = 0;
    for ( ;; ) {
        if (s->fc == NULL) {
            err = td_seq_open_next(s);
            if (err == AVERROR_EOF) {
                return 0;
            }
            if (err < 0) {
                return err;
            }
        }
        err = av_read_frame(s->fc, s->pkt);
        if (err == AVERROR_EOF) {
            if (s->index) {
                td_iframes_segment_end(s->index, s->next - 1,
                                       avio_size(s->fc->pb));
            }
            avformat_close_input(&s->fc);
            continue;
        }
        if (err < 0) {
            return err;
        }
        if (s->index) {
            err = td_iframes_packet(s->index, s->next - 1, s->pkt,
                                    s->fc->streams[0]->time_base);
            if (err < 0) {
                return err;
            }
        }
        if (s->pkt->dts == AV_NOPTS_VALUE) {
            av_packet_unref(s->pkt);
            continue;
        }
        s->have = 1;
        return 0;
    }
}


/* the first segment, its stream described (the parameter sets the MP4
 * needs come from the stream itself), and a stream for it in mux */
static int
td_seq_start(td_seq_t *s, const char *outdir, const char *sub,
    const AVIOInterruptCB *interrupt, td_iframes_t *index,
    AVFormatContext *mux)
{
    int        err;
    AVStream  *st;

    snprintf(s->dir, sizeof(s->dir), "%s/%s", outdir, sub);
    s->interrupt = interrupt;
    s->index = index;
    s->pkt = av_packet_alloc();
    if (s->pkt == NULL) {
        return AVERROR(ENOMEM);
    }

    err = td_seq_open_next(s);
    if (err == AVERROR_EOF) {
        return AVERROR_INVALIDDATA;          /* no segment at all */
    }
    if (err < 0 || (err = avformat_find_stream_info(s->fc, NULL)) < 0) {
        return err;
    }

    st = avformat_new_stream(mux, NULL);
    if (st == NULL) {
        return AVERROR(ENOMEM);
    }
    err = avcodec_parameters_copy(st->codecpar, s->fc->streams[0]->codecpar);
    if (err < 0) {
        return err;
    }
    st->codecpar->codec_tag = 0;
    st->time_base = s->fc->streams[0]->time_base;
    s->out = st->index;

    return td_seq_read(s);
}


static void
td_seq_close(td_seq_t *s)
{
    avformat_close_input(&s->fc);
    av_packet_free(&s->pkt);
}


/* the packet that comes first by decoding time, or NULL at the end */
static td_seq_t *
td_seq_first(td_seq_t *v, td_seq_t *a)
{
    if (!v->have) {
        return a->have ? a : NULL;
    }
    if (!a->have) {
        return v;
    }
    return av_compare_ts(a->pkt->dts, a->fc->streams[0]->time_base,
                         v->pkt->dts, v->fc->streams[0]->time_base) < 0
           ? a : v;
}


/* both sequences' packets into mux, from time 0 (the segments start where
 * the MPEG-TS muxer's delay put them) */
static int
td_seq_merge(td_seq_t *v, td_seq_t *a, AVFormatContext *mux,
    int64_t *packets)
{
    int         err;
    int64_t     start;
    td_seq_t   *s;
    AVRational  tb = { 1, 90000 };   /* MPEG-TS time */

    start = v->have ? v->pkt->dts : 0;
    if (a->have && (!v->have || a->pkt->dts < start)) {
        start = a->pkt->dts;
    }

    while ((s = td_seq_first(v, a)) != NULL) {
        s->pkt->stream_index = s->out;
        s->pkt->pos = -1;
        s->pkt->dts -= start;
        if (s->pkt->pts != AV_NOPTS_VALUE) {
            s->pkt->pts -= start;
        }
        av_packet_rescale_ts(s->pkt, tb, mux->streams[s->out]->time_base);

        err = av_interleaved_write_frame(mux, s->pkt);
        if (err < 0) {
            return err;
        }
        __atomic_add_fetch(packets, 1, __ATOMIC_RELAXED);

        err = td_seq_read(s);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}


int
td_download_mp4(const char *outdir, const char *rendition, int audio,
    const AVIOInterruptCB *interrupt, td_iframes_t *index, int64_t *packets,
    char *error, size_t len)
{
    int               err;
    char              dir[1200], path[1300];
    td_seq_t          v, a;
    AVFormatContext  *mux = NULL;

    memset(&v, 0, sizeof(v));
    memset(&a, 0, sizeof(a));

    snprintf(dir, sizeof(dir), "%s/downloads", outdir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(error, len, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s.mp4", dir, rendition);

    err = avformat_alloc_output_context2(&mux, NULL, "mp4", path);
    if (err >= 0) {
        mux->interrupt_callback = *interrupt;
        err = td_seq_start(&v, outdir, rendition, interrupt, index, mux);
    }
    if (err >= 0 && audio) {
        err = td_seq_start(&a, outdir, "audio", interrupt, NULL, mux);
    }
    if (err >= 0) {
        err = avio_open2(&mux->pb, path, AVIO_FLAG_WRITE, interrupt, NULL);
    }
    if (err >= 0) {
        err = avformat_write_header(mux, NULL);
        if (err >= 0) {
            err = td_seq_merge(&v, &a, mux, packets);
        }
        if (err >= 0) {
            err = av_write_trailer(mux);
        }
    }

    td_seq_close(&v);
    td_seq_close(&a);
    if (mux) {
        avio_closep(&mux->pb);
        avformat_free_context(mux);
    }

    if (err < 0) {
        snprintf(error, len, "the download of %s: %s", rendition,
                 av_err2str(err));
        unlink(path);
        return -1;
    }
    return 0;
}

/*
 * Scrub thumbnails (thumbs.h).  The frames come from the ladder's filter
 * graph: one branch split off the smallest rendition takes one frame
 * every `every` frames (framestep), scales it to a tile and lets the tile
 * filter lay the tiles out into sheets; this file plans the geometry,
 * writes the sheets as JPEG and the WebVTT track that points into them.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/mathematics.h>
#include <libswscale/swscale.h>

#include "thumbs.h"


static int
td_even(double v)
{
    int  n = (int) lround(v / 2.0) * 2;

    return n < 2 ? 2 : n;
}


void
td_thumbs_plan(td_thumbs_t *th, int disp_w, int disp_h, AVRational rate,
    double duration)
{
    int      sec, count;
    double   dar;

    memset(th, 0, sizeof(*th));
    th->rate = rate;

    /* the display aspect into a TD_THUMB_BOX square, even sides */
    dar = disp_w > 0 && disp_h > 0 ? (double) disp_w / disp_h : 16.0 / 9;
    if (dar >= 1) {
        th->width = TD_THUMB_BOX;
        th->height = td_even(TD_THUMB_BOX / dar);
    } else {
        th->height = TD_THUMB_BOX;
        th->width = td_even(TD_THUMB_BOX * dar);
    }

    /* whole seconds, at least 1, at most TD_THUMB_MAX tiles */
    if (duration > 0) {
        sec = (int) ceil(duration / TD_THUMB_MAX);
        if (sec < 1) {
            sec = 1;
        }
        count = (int) ceil(duration / sec);
    } else {
        sec = TD_THUMB_UNKNOWN_SEC;
        count = TD_THUMB_MAX;
    }
    if (count < 1) {
        count = 1;
    }
    if (count > TD_THUMB_MAX) {
        count = TD_THUMB_MAX;
    }

    th->every = (int) lround(sec * av_q2d(rate));
    if (th->every < 1) {
        th->every = 1;
    }

    /* a short video gets a sheet no larger than its tiles need */
    th->columns = count < TD_THUMB_COLUMNS ? count : TD_THUMB_COLUMNS;
    th->rows = (count + th->columns - 1) / th->columns;
    if (th->rows > TD_THUMB_ROWS) {
        th->rows = TD_THUMB_ROWS;
    }
}


int
td_thumbs_filters(const td_thumbs_t *th, int gpu, char *buf, size_t len)
{
    int  n;

    /*
     * The frame step comes first, so that only the frames kept are
     * downloaded from the GPU and scaled; full range for the JPEG
     * encoder; the tile filter sends a last, partial sheet at the end.
     */
    n = snprintf(buf, len, "framestep=%d,%sscale=%d:%d:flags=bicubic:"
                 "out_range=full,setsar=1,format=yuvj420p,tile=%dx%d",
                 th->every, gpu ? "hwdownload,format=yuv420p," : "",
                 th->width, th->height, th->columns, th->rows);

    return n < 0 || (size_t) n >= len ? -1 : 0;
}


int
td_thumbs_sheet(td_thumbs_t *th, const char *outdir, const AVFrame *sheet,
    char *err, size_t len)
{
    int   per, max;
    char  path[1300];

    per = th->columns * th->rows;
    max = (TD_THUMB_MAX + per - 1) / per;
    if (th->sheets >= max) {
        return 0;                   /* a duration that was not declared */
    }

    snprintf(path, sizeof(path), "%s/thumbs", outdir);
    if (th->sheets == 0 && mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, len, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }

    snprintf(path, sizeof(path), "%s/thumbs/sheet_%03d.jpg", outdir,
             th->sheets);
    if (td_jpeg_save(sheet, path) != 0) {
        snprintf(err, len, "cannot write the thumbnail sheet %s", path);
        return -1;
    }

    th->sheets++;
    return 0;
}


/* HH:MM:SS.mmm of a frame number */
static void
td_vtt_time(const td_thumbs_t *th, int64_t frame, char *buf, size_t len)
{
    int64_t  ms;

    ms = av_rescale_q(frame, av_inv_q(th->rate), (AVRational) { 1, 1000 });
    snprintf(buf, len, "%02lld:%02lld:%02lld.%03lld",
             (long long) (ms / 3600000), (long long) (ms / 60000 % 60),
             (long long) (ms / 1000 % 60), (long long) (ms % 1000));
}


int
td_thumbs_vtt(const td_thumbs_t *th, const char *outdir, int64_t frames,
    char *err, size_t len)
{
    int      per, tile, bad;
    char     path[1300], from[32], to[32];
    FILE    *f;
    int64_t  i, count, end;

    per = th->columns * th->rows;
    count = (frames + th->every - 1) / th->every;
    if (count > (int64_t) th->sheets * per) {
        count = (int64_t) th->sheets * per;
    }
    if (count > TD_THUMB_MAX) {
        count = TD_THUMB_MAX;
    }

    snprintf(path, sizeof(path), "%s/thumbnails.vtt", outdir);
    f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, len, "%s: %s", path, strerror(errno));
        return -1;
    }

    fprintf(f, "WEBVTT\n");

    /* a cue from each tile's frame to the next one's, the last one to
     * the end of the video */
    for (i = 0; i < count; i++) {
        end = (i + 1) * th->every;
        if (end > frames) {
            end = frames;
        }
        td_vtt_time(th, i * th->every, from, sizeof(from));
        td_vtt_time(th, end, to, sizeof(to));
        tile = (int) (i % per);
        fprintf(f, "\n%s --> %s\nthumbs/sheet_%03d.jpg#xywh=%d,%d,%d,%d\n",
                from, to, (int) (i / per),
                tile % th->columns * th->width,
                tile / th->columns * th->height, th->width, th->height);
    }

    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, len, "%s: cannot write", path);
        return -1;
    }
    return 0;
}


int
td_jpeg_save(const AVFrame *frame, const char *path)
{
    int                 rc = -1;
    FILE               *f;
    AVFrame            *conv = NULL;
    AVPacket           *pkt;
    AVCodecContext     *enc;
    const AVFrame      *src = frame;
    const AVCodec      *codec;
    struct SwsContext  *sws;

    codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    enc = codec ? avcodec_alloc_context3(codec) : NULL;
    pkt = av_packet_alloc();
    if (enc == NULL || pkt == NULL) {
        goto done;
    }

    if (frame->format != AV_PIX_FMT_YUVJ420P) {
        conv = av_frame_alloc();
        if (conv == NULL) {
            goto done;
        }
        conv->format = AV_PIX_FMT_YUVJ420P;
        conv->width = frame->width;
        conv->height = frame->height;
        if (av_frame_get_buffer(conv, 0) < 0) {
            goto done;
        }
        sws = sws_getContext(frame->width, frame->height, frame->format,
                             conv->width, conv->height, AV_PIX_FMT_YUVJ420P,
                             SWS_BICUBIC, NULL, NULL, NULL);
        if (sws == NULL) {
            goto done;
        }
        sws_scale(sws, (const uint8_t *const *) frame->data,
                  frame->linesize, 0, frame->height, conv->data,
                  conv->linesize);
        sws_freeContext(sws);
        src = conv;
    }

    enc->width = src->width;
    enc->height = src->height;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->time_base = (AVRational) { 1, 25 };
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 3;
    if (avcodec_open2(enc, codec, NULL) < 0) {
        goto done;
    }

    /* the encoder takes its own timing, not the graph's */
    if (conv == NULL) {
        conv = av_frame_clone(frame);
        if (conv == NULL) {
            goto done;
        }
    }
    conv->pts = 0;

    if (avcodec_send_frame(enc, conv) < 0 || avcodec_send_frame(enc, NULL) < 0
        || avcodec_receive_packet(enc, pkt) < 0)
    {
        goto done;
    }

    f = fopen(path, "wb");
    if (f == NULL) {
        goto done;
    }
    rc = fwrite(pkt->data, 1, (size_t) pkt->size, f) == (size_t) pkt->size
         ? 0 : -1;
    if (fclose(f) != 0) {
        rc = -1;
    }

done:
    av_frame_free(&conv);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    return rc;
}

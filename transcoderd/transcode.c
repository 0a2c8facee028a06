/*
 * The HLS ladder with libav* (pipeline.md, Encoding), in one process:
 *
 *   demux -> decode once -> one filter graph: [deinterlace] [rotate] fps
 *   (constant rate) -> scale to the largest rendition -> split -> the next
 *   one scaled from it (cascade) -> ... -> one buffersink per rendition
 *   -> one encoder thread each (bounded queue) -> its own HLS muxer.
 *   Audio is decoded, resampled and encoded once into audio/.
 *
 * Keyframes are forced every 2 s of output time on the same frames in
 * every rendition (they all come from one constant-rate stream), so the
 * 6 s segments line up.  The master playlist is written here with the
 * measured peak and average bandwidth of every rendition (FFmpeg 5.1's
 * muxer would declare the nominal rates).
 *
 * Playable while transcoding: the muxers write EVENT playlists, replaced
 * by a rename after each closed segment (temp_file: a segment, too, gets
 * its name only once complete), which the daemon publishes as they grow
 * (progressive.c); once the muxers are done each playlist is rewritten as
 * VOD, the ladder that is published in the end.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/hwcontext.h>
#include <libavutil/avstring.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>

#include "downloads.h"
#include "thumbs.h"
#include "transcode.h"

#define TD_MAX_RENDITIONS  4
#define TD_QUEUE_FRAMES    8
#define TD_KEYINT_SEC      2
#define TD_SEGMENT_SEC     "6"
#define TD_AUDIO_RATE      48000
#define TD_AUDIO_BITRATE   128000

/* the poster is the frame at this share of the duration (past a fade in,
 * yet early), or at TD_POSTER_SEC when no duration is declared; a video
 * that ends before that time gets its last frame */
#define TD_POSTER_SHARE    0.10
#define TD_POSTER_SEC      1.0

typedef struct {
    const char  *name;
    int          height;
    int          kbps;
} td_row_t;

static const td_row_t  td_ladder[] = {
    { "1080p", 1080, 6000 },
    { "720p", 720, 3000 },
    { "480p", 480, 1200 },
    { "360p", 360, 600 },
};

/* a bounded frame queue between the filter graph and one encoder */
typedef struct {
    AVFrame          *frames[TD_QUEUE_FRAMES];
    int               head, count, done;
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
} td_fifo_t;

typedef struct {
    char               name[16];
    int                width, height, kbps;
    AVFilterContext   *sink;
    AVCodecContext    *enc;
    AVFormatContext   *mux;
    td_fifo_t          fifo;
    pthread_t          thread;
    int                started;
    int64_t            next_key;     /* next forced keyframe, in frames */
    int                key_every;
    char               codecs[32];   /* avc1.PPCCLL from the SPS */
    int                codecs_known; /* set (atomic) once codecs is */
    int64_t            iframe_peak;  /* its I-frame playlist's bit rates */
    int64_t            iframe_avg;
    char               error[256];
    int                failed;
    int64_t           *packets;      /* td_transcode_t's counter */
} td_rendition_t;

typedef struct {
    td_transcode_t    *t;
    td_input_t         input;
    AVFormatContext   *in;        /* input.fc */
    int                vidx, aidx;
    AVCodecContext    *vdec, *adec;
    AVBufferRef       *hw_device;
    AVFilterGraph     *vgraph, *agraph;
    AVFilterContext   *vsrc, *asrc, *asink;
    AVRational         rate;         /* output frame rate */
    int                disp_w, disp_h, rotation;
    td_rendition_t     r[TD_MAX_RENDITIONS];
    int                nr;
    AVCodecContext    *aenc;
    AVFormatContext   *amux;
    int64_t            apts;
    int                poster_done;
    double             poster_at;    /* s from the first frame */
    double             poster_sec;   /* the frame taken */
    AVFrame           *poster_last;  /* the latest frame, until then */
    td_thumbs_t        thumbs;
    AVFilterContext   *thumbs_sink;
    double             duration;
    int64_t            vframes;
    int64_t            vdecoded;     /* pictures out of the decoder */
    const char        *encoder_name;
    const char        *video_encoder;  /* libx264 or h264_nvenc */
    int                gpu_frames;     /* the graph keeps frames on the GPU */
    int                used_gpu;
    int                pass;           /* 0, then 1 for a libx264 rerun */
    int                outputs_told;   /* t->outputs called */
} td_ctx_t;


static void
td_fail(td_transcode_t *t, int permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
td_fail(td_transcode_t *t, int permanent, const char *fmt, ...)
{
    va_list  ap;

    if (t->error[0]) {
        return;       /* the first cause is the one to report */
    }
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
    t->permanent = permanent;
}

static const char *
td_err(int err, char *buf, size_t len)
{
    av_strerror(err, buf, len);
    return buf;
}

/* --- probing ---------------------------------------------------------------- */

static int
td_rotation(AVStream *st)
{
    uint8_t  *m;
    double    deg;
    int       r;

    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (m == NULL) {
        return 0;
    }

    /* av_display_rotation_get is counter-clockwise; people say clockwise */
    deg = -av_display_rotation_get((int32_t *) m);
    if (isnan(deg)) {
        return 0;
    }
    r = (int) lround(deg / 90.0) * 90;
    r %= 360;
    return r < 0 ? r + 360 : r;
}

/* NVDEC when the decoder offers it for this stream, software otherwise */
static enum AVPixelFormat
td_get_format(AVCodecContext *dec, const enum AVPixelFormat *fmts)
{
    const enum AVPixelFormat  *p;

    (void) dec;

    for (p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        if (*p == AV_PIX_FMT_CUDA) {
            return *p;
        }
    }
    for (p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        if (!(av_pix_fmt_desc_get(*p)->flags & AV_PIX_FMT_FLAG_HWACCEL)) {
            return *p;
        }
    }
    return AV_PIX_FMT_NONE;
}

static int
td_open_decoder(td_ctx_t *c, AVStream *st, AVCodecContext **out, int hw)
{
    int             err;
    char            e[128];
    const AVCodec  *codec;
    AVCodecContext *dec;

    codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == NULL) {
        td_fail(c->t, 1, "unsupported %s codec \"%s\"",
                av_get_media_type_string(st->codecpar->codec_type),
                avcodec_get_name(st->codecpar->codec_id));
        return -1;
    }

    dec = avcodec_alloc_context3(codec);
    if (dec == NULL || avcodec_parameters_to_context(dec, st->codecpar) < 0) {
        avcodec_free_context(&dec);
        td_fail(c->t, 0, "out of memory");
        return -1;
    }
    dec->pkt_timebase = st->time_base;
    dec->thread_count = 0;
    dec->max_pixels = (int64_t) c->t->limits->max_long_side
                      * c->t->limits->max_short_side;

    if (hw && c->hw_device) {
        dec->hw_device_ctx = av_buffer_ref(c->hw_device);
        dec->get_format = td_get_format;
    }

    err = avcodec_open2(dec, codec, NULL);
    if (err < 0) {
        avcodec_free_context(&dec);
        td_fail(c->t, 1, "cannot decode %s: %s", codec->name,
                td_err(err, e, sizeof(e)));
        return -1;
    }

    *out = dec;
    return 0;
}

static int
td_probe(td_ctx_t *c)
{
    int           err, permanent;
    unsigned      i;
    char          e[256];
    AVStream     *st;
    td_transcode_t *t = c->t;

    err = td_input_open(&c->input, t->input, t->limits, &t->interrupt,
                        &t->read_bytes, e, sizeof(e), &permanent);
    c->in = c->input.fc;
    if (err != 0) {
        td_fail(t, permanent, "%s", e);
        return -1;
    }

    c->vidx = -1;
    c->aidx = av_find_best_stream(c->in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (c->aidx < 0) {
        c->aidx = -1;
    }

    /* a cover picture is not video */
    for (i = 0; i < c->in->nb_streams; i++) {
        st = c->in->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
            && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)
            && st->codecpar->width > 0 && st->codecpar->height > 0
            && (c->vidx < 0 || (int64_t) st->codecpar->width
                                 * st->codecpar->height
                               > (int64_t) c->in->streams[c->vidx]
                                     ->codecpar->width
                                 * c->in->streams[c->vidx]->codecpar->height))
        {
            c->vidx = (int) i;
        }
    }

    if (c->vidx < 0 && c->aidx < 0) {
        for (i = 0; i < c->in->nb_streams; i++) {
            if (c->in->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC) {
                td_fail(t, 1, "the file holds only a cover picture: no video "
                        "or audio to play");
                return -1;
            }
        }
        td_fail(t, 1, "no decodable video or audio stream in the file");
        return -1;
    }

    c->duration = c->in->duration > 0
                  ? (double) c->in->duration / AV_TIME_BASE : 0;

    return 0;
}

static void
td_metadata(td_ctx_t *c)
{
    json_t     *m;
    AVStream   *vs, *as;
    AVRational  fr;

    m = json_object();
    json_object_set_new(m, "duration_sec",
                        json_real(floor(c->duration * 1000 + 0.5) / 1000));
    json_object_set_new(m, "container",
                        json_string(c->in->iformat->name));
    json_object_set_new(m, "bit_rate", json_integer(c->in->bit_rate));

    if (c->vidx >= 0) {
        vs = c->in->streams[c->vidx];
        fr = av_guess_frame_rate(c->in, vs, NULL);
        json_object_set_new(m, "width", json_integer(c->disp_w));
        json_object_set_new(m, "height", json_integer(c->disp_h));
        json_object_set_new(m, "video_codec",
                            json_string(avcodec_get_name(
                                vs->codecpar->codec_id)));
        json_object_set_new(m, "frame_rate",
                            json_real(fr.num && fr.den
                                      ? floor(av_q2d(fr) * 1000 + 0.5) / 1000
                                      : 0));
        json_object_set_new(m, "rotation", json_integer(c->rotation));
        /* where the SPA finds the scrub thumbnails, and the poster's time */
        json_object_set_new(m, "thumbnails", json_string("thumbnails.vtt"));
        json_object_set_new(m, "poster_sec", c->poster_done
                            ? json_real(floor(c->poster_sec * 1000 + 0.5)
                                        / 1000)
                            : json_null());
    } else {
        json_object_set_new(m, "width", json_null());
        json_object_set_new(m, "height", json_null());
        json_object_set_new(m, "video_codec", json_null());
        json_object_set_new(m, "frame_rate", json_null());
        json_object_set_new(m, "rotation", json_integer(0));
        json_object_set_new(m, "thumbnails", json_null());
        json_object_set_new(m, "poster_sec", json_null());
    }

    if (c->aidx >= 0) {
        as = c->in->streams[c->aidx];
        json_object_set_new(m, "audio_codec",
                            json_string(avcodec_get_name(
                                as->codecpar->codec_id)));
    } else {
        json_object_set_new(m, "audio_codec", json_null());
    }

    /* the video encoder: none for a master without video */
    json_object_set_new(m, "encoder", c->vidx >= 0
                                      ? json_string(c->encoder_name)
                                      : json_null());

    c->t->metadata = m;
}

/* display size (SAR and rotation applied), then the ladder's rows */
static void
td_plan(td_ctx_t *c)
{
    int          w, h, i, rh;
    double       dar;
    AVStream    *vs;
    AVRational   sar, fr;
    td_rendition_t *r;

    vs = c->in->streams[c->vidx];
    w = vs->codecpar->width;
    h = vs->codecpar->height;
    sar = av_guess_sample_aspect_ratio(c->in, vs, NULL);
    if (sar.num > 0 && sar.den > 0) {
        w = (int) lround((double) w * sar.num / sar.den);
    }

    c->rotation = td_rotation(vs);
    if (c->rotation == 90 || c->rotation == 270) {
        int tmp = w;
        w = h;
        h = tmp;
    }
    c->disp_w = w;
    c->disp_h = h;
    dar = (double) w / h;

    fr = av_guess_frame_rate(c->in, vs, NULL);
    if (fr.num <= 0 || fr.den <= 0 || av_q2d(fr) > 60 || av_q2d(fr) < 1) {
        fr = av_q2d(fr) > 60 ? (AVRational) { 60, 1 }
                             : (AVRational) { 30, 1 };
    }
    c->rate = fr;

    c->nr = 0;
    for (i = 0; i < (int) (sizeof(td_ladder) / sizeof(td_ladder[0])); i++) {
        if (td_ladder[i].height > h) {
            continue;              /* never upscale */
        }
        r = &c->r[c->nr++];
        rh = td_ladder[i].height;
        snprintf(r->name, sizeof(r->name), "%s", td_ladder[i].name);
        r->height = rh;
        r->width = (int) lround(rh * dar / 2.0) * 2;
        r->kbps = td_ladder[i].kbps;
    }

    if (c->nr == 0) {
        /* smaller than 360p: one rendition at its own (even) size */
        r = &c->r[c->nr++];
        r->height = h & ~1;
        r->width = w & ~1;
        if (r->height < 2) {
            r->height = 2;
        }
        if (r->width < 2) {
            r->width = 2;
        }
        snprintf(r->name, sizeof(r->name), "%dp", r->height);
        r->kbps = (int) (600.0 * r->width * r->height / (640.0 * 360.0));
        if (r->kbps < 150) {
            r->kbps = 150;
        }
    }

    td_thumbs_plan(&c->thumbs, w, h, c->rate, c->duration);
    c->poster_at = c->duration > 0 ? c->duration * TD_POSTER_SHARE
                                   : TD_POSTER_SEC;
}

/* --- filter graphs ------------------------------------------------------ */

static int
td_video_graph(td_ctx_t *c, const AVFrame *first)
{
    int                    i, err;
    char                   args[512], desc[2048], *p, label[16], e[128];
    char                   thumbs[256];
    AVFilterInOut         *outputs, *inputs, *io;
    const AVFilter        *buffer, *sink;
    AVCodecContext        *dec = c->vdec;
    AVStream              *vs = c->in->streams[c->vidx];
    AVBufferSrcParameters *par;
    const char            *tail;

    c->vgraph = avfilter_graph_alloc();
    buffer = avfilter_get_by_name("buffer");
    sink = avfilter_get_by_name("buffersink");
    if (c->vgraph == NULL || buffer == NULL || sink == NULL) {
        td_fail(c->t, 0, "out of memory");
        return -1;
    }
    c->vgraph->nb_threads = c->t->threads;

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:"
             "pixel_aspect=%d/%d", first->width, first->height,
             c->gpu_frames ? AV_PIX_FMT_CUDA : first->format,
             vs->time_base.num, vs->time_base.den,
             dec->sample_aspect_ratio.num ? dec->sample_aspect_ratio.num : 1,
             dec->sample_aspect_ratio.den ? dec->sample_aspect_ratio.den : 1);

    err = avfilter_graph_create_filter(&c->vsrc, buffer, "in", args, NULL,
                                       c->vgraph);
    if (err < 0) {
        td_fail(c->t, 0, "video source: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    if (c->gpu_frames) {
        /* frames stay in GPU memory: the decoder's frames context */
        par = av_buffersrc_parameters_alloc();
        if (par == NULL) {
            return -1;
        }
        par->hw_frames_ctx = first->hw_frames_ctx;
        err = av_buffersrc_parameters_set(c->vsrc, par);
        av_free(par);
        if (err < 0) {
            td_fail(c->t, 0, "video source: %s", td_err(err, e, sizeof(e)));
            return -1;
        }
    }

    /* the chain, then the cascade of scales */
    p = desc;
    p += sprintf(p, "[in]");
    /* deinterlaces the frames flagged interlaced, passes the others: a
     * stream may be flagged per frame without saying so up front */
    p += sprintf(p, c->gpu_frames ? "yadif_cuda=mode=send_frame:"
                                    "deint=interlaced,"
                                  : "yadif=mode=send_frame:deint=interlaced,");
    switch (c->rotation) {
    case 90:
        p += sprintf(p, "transpose=clock,");
        break;
    case 180:
        p += sprintf(p, "hflip,vflip,");
        break;
    case 270:
        p += sprintf(p, "transpose=cclock,");
        break;
    }
    p += sprintf(p, "fps=%d/%d,", c->rate.num, c->rate.den);

    /* NVENC takes GPU frames; libx264 needs them downloaded */
    tail = c->gpu_frames && strcmp(c->video_encoder, "libx264") == 0
           ? ",hwdownload,format=yuv420p" : "";

    /* the scrub thumbnails branch off the smallest rendition */
    if (td_thumbs_filters(&c->thumbs, c->gpu_frames, thumbs, sizeof(thumbs))
        != 0)
    {
        td_fail(c->t, 0, "thumbnail filters do not fit");
        return -1;
    }

    for (i = 0; i < c->nr; i++) {
        if (c->gpu_frames) {
            p += sprintf(p, "scale_cuda=%d:%d:format=yuv420p",
                         c->r[i].width, c->r[i].height);
        } else {
            p += sprintf(p, "scale=%d:%d:flags=%s,setsar=1,format=yuv420p",
                         c->r[i].width, c->r[i].height,
                         i ? "fast_bilinear" : "bicubic");
        }
        if (i + 1 < c->nr) {
            p += sprintf(p, ",split=2[s%d][n%d];[s%d]null%s[r%d];[n%d]",
                         i, i, i, tail, i, i);
        } else {
            p += sprintf(p, ",split=2[s%d][t];[s%d]null%s[r%d];[t]%s[th]",
                         i, i, tail, i, thumbs);
        }
    }

    for (i = 0; i < c->nr; i++) {
        snprintf(label, sizeof(label), "r%d", i);
        err = avfilter_graph_create_filter(&c->r[i].sink, sink, label, NULL,
                                           NULL, c->vgraph);
        if (err < 0) {
            td_fail(c->t, 0, "video sink: %s", td_err(err, e, sizeof(e)));
            return -1;
        }
    }
    err = avfilter_graph_create_filter(&c->thumbs_sink, sink, "th", NULL,
                                       NULL, c->vgraph);
    if (err < 0) {
        td_fail(c->t, 0, "thumbnail sink: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    inputs = avfilter_inout_alloc();
    if (inputs == NULL) {
        td_fail(c->t, 0, "out of memory");
        return -1;
    }
    inputs->name = av_strdup("th");
    inputs->filter_ctx = c->thumbs_sink;
    inputs->pad_idx = 0;
    inputs->next = NULL;
    outputs = avfilter_inout_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = c->vsrc;
    outputs->pad_idx = 0;
    outputs->next = NULL;

    for (i = c->nr - 1; i >= 0; i--) {
        io = avfilter_inout_alloc();
        io->name = av_asprintf("r%d", i);
        io->filter_ctx = c->r[i].sink;
        io->pad_idx = 0;
        io->next = inputs;
        inputs = io;
    }

    err = avfilter_graph_parse_ptr(c->vgraph, desc, &inputs, &outputs, NULL);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (err < 0 || (err = avfilter_graph_config(c->vgraph, NULL)) < 0) {
        td_fail(c->t, 0, "video filters \"%s\": %s", desc,
                td_err(err, e, sizeof(e)));
        return -1;
    }

    return 0;
}

static int
td_audio_graph(td_ctx_t *c)
{
    int              err;
    char             args[512], layout[128], e[128];
    AVFilterInOut   *outputs, *inputs;
    AVCodecContext  *dec = c->adec;
    AVStream        *as = c->in->streams[c->aidx];

    c->agraph = avfilter_graph_alloc();
    if (c->agraph == NULL) {
        td_fail(c->t, 0, "out of memory");
        return -1;
    }

    if (dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        av_channel_layout_default(&dec->ch_layout,
                                  dec->ch_layout.nb_channels);
    }
    av_channel_layout_describe(&dec->ch_layout, layout, sizeof(layout));

    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:"
             "channel_layout=%s", as->time_base.num, as->time_base.den,
             dec->sample_rate, av_get_sample_fmt_name(dec->sample_fmt),
             layout);

    err = avfilter_graph_create_filter(&c->asrc,
                                       avfilter_get_by_name("abuffer"),
                                       "ain", args, NULL, c->agraph);
    if (err >= 0) {
        err = avfilter_graph_create_filter(&c->asink,
                                           avfilter_get_by_name("abuffersink"),
                                           "aout", NULL, NULL, c->agraph);
    }
    if (err < 0) {
        td_fail(c->t, 0, "audio filters: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = c->asrc;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = c->asink;

    err = avfilter_graph_parse_ptr(c->agraph,
              "[in]aresample=48000,aformat=sample_fmts=fltp:"
              "channel_layouts=stereo[out]", &inputs, &outputs, NULL);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (err < 0 || (err = avfilter_graph_config(c->agraph, NULL)) < 0) {
        td_fail(c->t, 0, "audio filters: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    return 0;
}

/* --- outputs ---------------------------------------------------------------- */

static int
td_open_mux(td_ctx_t *c, const char *sub, AVCodecContext *enc,
    AVFormatContext **out)
{
    int               err;
    char              dir[1200], playlist[1300], segs[1300], e[128];
    AVStream         *st;
    AVDictionary     *opts = NULL;
    AVFormatContext  *mux = NULL;

    snprintf(dir, sizeof(dir), "%s/%s", c->t->outdir, sub);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        td_fail(c->t, 0, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(playlist, sizeof(playlist), "%s/index.m3u8", dir);
    snprintf(segs, sizeof(segs), "%s/segment_%%03d.ts", dir);

    err = avformat_alloc_output_context2(&mux, NULL, "hls", playlist);
    if (err < 0 || mux == NULL) {
        td_fail(c->t, 0, "hls muxer: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    st = avformat_new_stream(mux, NULL);
    if (st == NULL
        || avcodec_parameters_from_context(st->codecpar, enc) < 0)
    {
        avformat_free_context(mux);
        td_fail(c->t, 0, "out of memory");
        return -1;
    }
    st->time_base = enc->time_base;

    av_dict_set(&opts, "hls_time", TD_SEGMENT_SEC, 0);
    /* an EVENT playlist rewritten after each segment (VOD would write it
     * only at the end), through a temporary name; temp_file gives each
     * segment its name only once it is closed, before the playlist names
     * it: whatever the daemon reads there is whole */
    av_dict_set(&opts, "hls_playlist_type", "event", 0);
    av_dict_set(&opts, "hls_segment_filename", segs, 0);
    av_dict_set(&opts, "hls_flags", "independent_segments+temp_file", 0);

    err = avformat_write_header(mux, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        avformat_free_context(mux);
        td_fail(c->t, 0, "hls header: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    *out = mux;
    return 0;
}

static int
td_threads_for(td_ctx_t *c, int i)
{
    int      k, n;
    int64_t  all = 0;

    for (k = 0; k < c->nr; k++) {
        all += (int64_t) c->r[k].width * c->r[k].height;
    }

    /*
     * Each rendition gets its share of the cores by pixels, doubled: the
     * largest one is the critical path (it holds about half the work), so
     * it must be able to use the cores the small ones leave idle.
     */
    n = (int) ceil(2.0 * c->t->threads * c->r[i].width * c->r[i].height
                   / (double) all);
    if (n > c->t->threads) {
        n = c->t->threads;
    }
    return n < 1 ? 1 : n;
}

static int
td_open_video_encoder(td_ctx_t *c, int i, const char *name)
{
    int              err;
    char             e[128];
    const AVCodec   *codec;
    AVCodecContext  *enc;
    td_rendition_t  *r = &c->r[i];

    codec = avcodec_find_encoder_by_name(name);
    if (codec == NULL) {
        td_fail(c->t, 0, "encoder %s missing", name);
        return -1;
    }

    enc = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        td_fail(c->t, 0, "out of memory");
        return -1;
    }

    enc->width = r->width;
    enc->height = r->height;
    enc->sample_aspect_ratio = (AVRational) { 1, 1 };
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    if (av_buffersink_get_format(r->sink) == AV_PIX_FMT_CUDA) {
        enc->pix_fmt = AV_PIX_FMT_CUDA;
        enc->hw_frames_ctx = av_buffer_ref(
                                 av_buffersink_get_hw_frames_ctx(r->sink));
    }
    enc->time_base = av_inv_q(c->rate);
    enc->framerate = c->rate;
    enc->bit_rate = (int64_t) r->kbps * 1000;
    enc->rc_max_rate = enc->bit_rate * 3 / 2;
    enc->rc_buffer_size = (int) (enc->bit_rate * 2);
    r->key_every = (int) lround(TD_KEYINT_SEC * av_q2d(c->rate));
    if (r->key_every < 1) {
        r->key_every = 1;
    }
    enc->gop_size = r->key_every;
    enc->keyint_min = r->key_every;
    enc->profile = FF_PROFILE_H264_HIGH;

    if (strcmp(name, "libx264") == 0) {
        enc->thread_count = td_threads_for(c, i);
        av_opt_set(enc->priv_data, "preset", c->t->preset, 0);
        av_opt_set(enc->priv_data, "profile", "high", 0);
        av_opt_set(enc->priv_data, "level", "4.2", 0);
        av_opt_set(enc->priv_data, "x264-params",
                   "scenecut=0:open-gop=0:stitchable=1:8x8dct=1", 0);
        av_opt_set_int(enc->priv_data, "forced-idr", 1, 0);
    } else {
        av_opt_set(enc->priv_data, "preset", "p4", 0);
        av_opt_set(enc->priv_data, "profile", "high", 0);
        av_opt_set(enc->priv_data, "level", "4.2", 0);
        av_opt_set(enc->priv_data, "rc", "vbr", 0);
        av_opt_set_int(enc->priv_data, "forced-idr", 1, 0);
        av_opt_set_int(enc->priv_data, "no-scenecut", 1, 0);
    }
    err = avcodec_open2(enc, codec, NULL);
    if (err < 0) {
        avcodec_free_context(&enc);
        td_fail(c->t, 0, "%s %dx%d: %s", name, r->width, r->height,
                td_err(err, e, sizeof(e)));
        return -1;
    }

    r->enc = enc;
    return td_open_mux(c, r->name, enc, &r->mux);
}

static int
td_open_audio(td_ctx_t *c)
{
    int              err;
    char             e[128];
    const AVCodec   *codec;
    AVCodecContext  *enc;

    codec = avcodec_find_encoder_by_name("aac");
    enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (enc == NULL) {
        td_fail(c->t, 0, "aac encoder missing");
        return -1;
    }

    enc->sample_rate = TD_AUDIO_RATE;
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&enc->ch_layout, 2);
    enc->bit_rate = TD_AUDIO_BITRATE;
    enc->time_base = (AVRational) { 1, TD_AUDIO_RATE };
    enc->profile = FF_PROFILE_AAC_LOW;

    err = avcodec_open2(enc, codec, NULL);
    if (err < 0) {
        avcodec_free_context(&enc);
        td_fail(c->t, 0, "aac: %s", td_err(err, e, sizeof(e)));
        return -1;
    }

    av_buffersink_set_frame_size(c->asink, enc->frame_size);
    c->aenc = enc;

    return td_open_mux(c, "audio", enc, &c->amux);
}

/* "avc1.PPCCLL" from the SPS of an Annex B packet */
static void
td_codecs_from_packet(td_rendition_t *r, const AVPacket *pkt)
{
    int             i;
    const uint8_t  *d = pkt->data;

    if (r->codecs[0]) {
        return;
    }
    for (i = 0; i + 7 < pkt->size; i++) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1
            && (d[i + 3] & 0x1f) == 7)
        {
            snprintf(r->codecs, sizeof(r->codecs), "avc1.%02x%02x%02x",
                     d[i + 4], d[i + 5], d[i + 6]);
            __atomic_store_n(&r->codecs_known, 1, __ATOMIC_RELEASE);
            return;
        }
    }
}

/* --- the encoder threads -------------------------------------------------- */

static void
td_fifo_init(td_fifo_t *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
}

/* frame NULL: the end */
static void
td_fifo_put(td_fifo_t *f, AVFrame *frame)
{
    pthread_mutex_lock(&f->lock);
    while (frame && f->count == TD_QUEUE_FRAMES) {
        pthread_cond_wait(&f->cond, &f->lock);
    }
    if (frame) {
        f->frames[(f->head + f->count) % TD_QUEUE_FRAMES] = frame;
        f->count++;
    } else {
        f->done = 1;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static AVFrame *
td_fifo_get(td_fifo_t *f)
{
    AVFrame  *frame = NULL;

    pthread_mutex_lock(&f->lock);
    while (f->count == 0 && !f->done) {
        pthread_cond_wait(&f->cond, &f->lock);
    }
    if (f->count) {
        frame = f->frames[f->head];
        f->head = (f->head + 1) % TD_QUEUE_FRAMES;
        f->count--;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    return frame;
}

static int
td_drain(td_rendition_t *r, AVPacket *pkt)
{
    int       err;
    AVStream *st = r->mux->streams[0];

    for ( ;; ) {
        err = avcodec_receive_packet(r->enc, pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) {
            return 0;
        }
        if (err < 0) {
            return err;
        }
        td_codecs_from_packet(r, pkt);
        av_packet_rescale_ts(pkt, r->enc->time_base, st->time_base);
        pkt->stream_index = 0;
        err = av_interleaved_write_frame(r->mux, pkt);
        if (err < 0) {
            return err;
        }
        __atomic_add_fetch(r->packets, 1, __ATOMIC_RELAXED);
    }
}

static void *
td_encoder_thread(void *arg)
{
    int              err = 0;
    char             e[128];
    AVFrame         *frame;
    AVPacket        *pkt;
    td_rendition_t  *r = arg;

    pkt = av_packet_alloc();

    while ((frame = td_fifo_get(&r->fifo)) != NULL) {
        if (err >= 0) {
            /* closed GOPs on the same frames in every rendition */
            frame->pict_type = frame->pts >= r->next_key ? AV_PICTURE_TYPE_I
                                                         : AV_PICTURE_TYPE_NONE;
            if (frame->pts >= r->next_key) {
                r->next_key += r->key_every;
            }
            err = avcodec_send_frame(r->enc, frame);
            if (err >= 0) {
                err = td_drain(r, pkt);
            }
        }
        av_frame_free(&frame);
    }

    if (err >= 0) {
        err = avcodec_send_frame(r->enc, NULL);
        if (err >= 0) {
            err = td_drain(r, pkt);
        }
    }
    if (err >= 0) {
        err = av_write_trailer(r->mux);
    }
    if (err < 0) {
        snprintf(r->error, sizeof(r->error), "%s encoder: %s", r->name,
                 td_err(err, e, sizeof(e)));
        r->failed = 1;
    }

    av_packet_free(&pkt);
    return NULL;
}

/* --- poster and thumbnails -------------------------------------------------- */

static void
td_poster(td_ctx_t *c, const AVFrame *in, double at)
{
    char      path[1200];
    AVFrame  *sw = NULL;

    /* a poster that cannot be made leaves the preview without one */
    if (in->format == AV_PIX_FMT_CUDA) {
        sw = av_frame_alloc();
        if (sw == NULL || av_hwframe_transfer_data(sw, in, 0) < 0) {
            av_frame_free(&sw);
            return;
        }
        in = sw;
    }

    snprintf(path, sizeof(path), "%s/poster.jpg", c->t->outdir);
    if (td_jpeg_save(in, path) == 0) {
        c->poster_done = 1;
        c->poster_sec = at;
    }
    av_frame_free(&sw);
    av_frame_free(&c->poster_last);
}

/* frame i of the constant-rate stream (rendition 0's copy): the poster
 * when its time has come; else kept as the fallback for a video shorter
 * than the poster's time */
static void
td_poster_frame(td_ctx_t *c, const AVFrame *frame, int64_t i)
{
    double  at;

    if (c->poster_done) {
        return;
    }
    at = i * av_q2d(av_inv_q(c->rate));
    if (at >= c->poster_at) {
        td_poster(c, frame, at);
        return;
    }
    if (c->poster_last == NULL) {
        c->poster_last = av_frame_alloc();
    }
    if (c->poster_last) {
        av_frame_unref(c->poster_last);
        if (av_frame_ref(c->poster_last, frame) < 0) {
            av_frame_free(&c->poster_last);
        } else {
            c->poster_last->pts = i;
        }
    }
}

static int
td_pull_thumbs(td_ctx_t *c)
{
    int       err;
    char      e[256];
    AVFrame  *sheet;

    sheet = av_frame_alloc();
    if (sheet == NULL) {
        return AVERROR(ENOMEM);
    }
    for ( ;; ) {
        err = av_buffersink_get_frame(c->thumbs_sink, sheet);
        if (err < 0) {
            break;
        }
        err = td_thumbs_sheet(&c->thumbs, c->t->outdir, sheet, e, sizeof(e));
        av_frame_unref(sheet);
        if (err != 0) {
            td_fail(c->t, 0, "%s", e);
            err = AVERROR(EIO);
            break;
        }
    }
    av_frame_free(&sheet);

    return (err == AVERROR(EAGAIN) || err == AVERROR_EOF) ? 0 : err;
}

/* --- the decode loop --------------------------------------------------------- */

static int
td_pull_video(td_ctx_t *c)
{
    int       i, err;
    AVFrame  *frame;

    for (i = 0; i < c->nr; i++) {
        for ( ;; ) {
            frame = av_frame_alloc();
            if (frame == NULL) {
                return AVERROR(ENOMEM);
            }
            err = av_buffersink_get_frame(c->r[i].sink, frame);
            if (err < 0) {
                av_frame_free(&frame);
                if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) {
                    break;
                }
                return err;
            }

            if (i == 0) {
                td_poster_frame(c, frame, c->vframes);
                c->vframes++;
            }

            /* the graph's time base is 1/rate after fps: pts counts frames */
            frame->pts = av_rescale_q(frame->pts,
                                      av_buffersink_get_time_base(
                                          c->r[i].sink),
                                      c->r[i].enc->time_base);
            td_fifo_put(&c->r[i].fifo, frame);
        }
    }

    return td_pull_thumbs(c);
}

static int
td_audio_encode(td_ctx_t *c, AVFrame *frame)
{
    int        err;
    AVPacket  *pkt;
    AVStream  *st = c->amux->streams[0];

    if (frame) {
        frame->pts = c->apts;
        c->apts += frame->nb_samples;
    }

    err = avcodec_send_frame(c->aenc, frame);
    pkt = av_packet_alloc();
    while (err >= 0) {
        err = avcodec_receive_packet(c->aenc, pkt);
        if (err < 0) {
            break;
        }
        av_packet_rescale_ts(pkt, c->aenc->time_base, st->time_base);
        pkt->stream_index = 0;
        err = av_interleaved_write_frame(c->amux, pkt);
        __atomic_add_fetch(&c->t->packets, 1, __ATOMIC_RELAXED);
    }
    av_packet_free(&pkt);

    return (err == AVERROR(EAGAIN) || err == AVERROR_EOF) ? 0 : err;
}

static int
td_pull_audio(td_ctx_t *c)
{
    int       err;
    AVFrame  *frame;

    frame = av_frame_alloc();
    for ( ;; ) {
        err = av_buffersink_get_frame(c->asink, frame);
        if (err < 0) {
            break;
        }
        err = td_audio_encode(c, frame);
        av_frame_unref(frame);
        if (err < 0) {
            break;
        }
    }
    av_frame_free(&frame);

    return (err == AVERROR(EAGAIN) || err == AVERROR_EOF) ? 0 : err;
}

/* a decoded frame: into its graph, then out to the encoders */
static int td_video_start(td_ctx_t *c, const AVFrame *first);

static int
td_feed(td_ctx_t *c, AVCodecContext *dec, AVFrame *frame)
{
    int      err;
    AVFrame *sw;

    if (dec == c->vdec) {
        if (c->vgraph == NULL) {
            if (frame == NULL) {
                return 0;         /* not a single picture: reported later */
            }
            if (td_video_start(c, frame) != 0) {
                return AVERROR(EINVAL);
            }
        }

        if (frame && frame->format == AV_PIX_FMT_CUDA && !c->gpu_frames) {
            sw = av_frame_alloc();
            if (sw == NULL
                || av_hwframe_transfer_data(sw, frame, 0) < 0
                || av_frame_copy_props(sw, frame) < 0)
            {
                av_frame_free(&sw);
                return AVERROR(EIO);
            }
            err = av_buffersrc_add_frame_flags(c->vsrc, sw, 0);
            av_frame_free(&sw);
        } else {
            if (frame) {
                frame->pts = frame->best_effort_timestamp;
            }
            err = av_buffersrc_add_frame_flags(c->vsrc, frame,
                                               AV_BUFFERSRC_FLAG_KEEP_REF);
        }
        return err < 0 ? err : td_pull_video(c);
    }

    if (frame) {
        frame->pts = frame->best_effort_timestamp;
    }
    err = av_buffersrc_add_frame_flags(c->asrc, frame,
                                       AV_BUFFERSRC_FLAG_KEEP_REF);
    return err < 0 ? err : td_pull_audio(c);
}

static int
td_decode(td_ctx_t *c, AVCodecContext *dec, const AVPacket *pkt,
    AVFrame *frame)
{
    int  err;

    err = avcodec_send_packet(dec, pkt);
    if (err < 0 && err != AVERROR_EOF) {
        return 0;              /* a damaged packet: skip it */
    }

    for ( ;; ) {
        err = avcodec_receive_frame(dec, frame);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) {
            return 0;
        }
        if (err < 0) {
            return 0;
        }
        if (dec == c->vdec) {
            c->vdecoded++;
        }
        err = td_feed(c, dec, frame);
        av_frame_unref(frame);
        if (err < 0) {
            return err;
        }
    }
}

/*
 * The ladder's shape for the daemon's progressive master playlist, once
 * every rendition's first packet gave its CODECS (the encoders' threads
 * set them): told once per pass.
 */
static void
td_tell_outputs(td_ctx_t *c)
{
    int      i;
    char    *s;
    json_t  *o, *rends;

    if (c->outputs_told || c->t->outputs == NULL) {
        return;
    }
    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        if (!c->r[i].started
            || !__atomic_load_n(&c->r[i].codecs_known, __ATOMIC_ACQUIRE))
        {
            return;
        }
    }
    c->outputs_told = 1;

    rends = json_array();
    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        json_array_append_new(rends,
            json_pack("{s:s, s:i, s:i, s:s}", "name", c->r[i].name,
                      "width", c->r[i].width, "height", c->r[i].height,
                      "codecs", c->r[i].codecs));
    }
    o = json_pack("{s:i, s:o, s:b, s:f}", "pass", c->pass, "renditions",
                  rends, "audio", c->aidx >= 0,
                  "frame_rate", c->vidx >= 0 ? av_q2d(c->rate) : 0.0);
    s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (s) {
        c->t->outputs(c->t->progress_data, s);
        free(s);
    }
}

static int
td_run(td_ctx_t *c)
{
    int        err = 0, i;
    char       e[128];
    double     last = 0, at, now;
    AVFrame   *frame;
    AVPacket  *pkt;
    AVStream  *st;

    frame = av_frame_alloc();
    pkt = av_packet_alloc();

    while (err >= 0 && (err = av_read_frame(c->in, pkt)) >= 0) {
        st = c->in->streams[pkt->stream_index];

        if (pkt->stream_index == c->vidx) {
            err = td_decode(c, c->vdec, pkt, frame);
        } else if (pkt->stream_index == c->aidx) {
            err = td_decode(c, c->adec, pkt, frame);
        }
        td_tell_outputs(c);

        at = pkt->pts == AV_NOPTS_VALUE ? 0
             : (pkt->pts - (st->start_time != AV_NOPTS_VALUE
                            ? st->start_time : 0)) * av_q2d(st->time_base);
        if (at > c->t->limits->max_duration) {
            td_fail(c->t, 1, "the file lasts longer than the limit of %d s "
                    "(max_duration)", c->t->limits->max_duration);
            err = AVERROR_EXIT;
        }

        /* a rate no header declared (avg_frame_rate unset): counted */
        if (pkt->stream_index == c->vidx && at >= 1.0
            && c->vdecoded > (int64_t) ((at + 1) * c->t->limits
                                                     ->max_frame_rate))
        {
            td_fail(c->t, 1, "the frame rate is above the limit of %d "
                    "(max_frame_rate): %lld pictures in %.1f s",
                    c->t->limits->max_frame_rate, (long long) c->vdecoded,
                    at);
            err = AVERROR_EXIT;
        }

        if (err >= 0 && pkt->pts != AV_NOPTS_VALUE && c->duration > 0
            && c->t->progress)
        {
            now = (double) av_gettime_relative() / 1e6;
            if (now - last >= 1.0) {
                last = now;
                if (c->t->progress(c->t->progress_data,
                                   at / c->duration > 0.99 ? 0.99
                                   : at / c->duration < 0 ? 0
                                   : at / c->duration))
                {
                    td_fail(c->t, 0, "stopped");
                    err = AVERROR_EXIT;
                }
            }
        }
        av_packet_unref(pkt);
    }

    if (err == AVERROR_EOF) {
        err = 0;
    }
    if (err < 0 && !c->t->error[0]) {
        td_fail(c->t, 0, "reading the master: %s", td_err(err, e, sizeof(e)));
    }

    /* flush decoders and graphs */
    if (err >= 0 && c->vdec) {
        err = td_decode(c, c->vdec, NULL, frame);
        if (err >= 0) {
            err = td_feed(c, c->vdec, NULL);
        }
        if (err >= 0 && !c->poster_done && c->poster_last) {
            td_poster(c, c->poster_last,
                      c->poster_last->pts * av_q2d(av_inv_q(c->rate)));
        }
    }
    if (err >= 0 && c->adec) {
        err = td_decode(c, c->adec, NULL, frame);
        if (err >= 0) {
            err = td_feed(c, c->adec, NULL);
        }
        if (err >= 0) {
            err = td_audio_encode(c, NULL);
        }
        if (err >= 0) {
            err = av_write_trailer(c->amux);
        }
    }

    for (i = 0; i < c->nr; i++) {
        td_fifo_put(&c->r[i].fifo, NULL);
    }

    if (err < 0 && !c->t->error[0]) {
        td_fail(c->t, 0, "transcoding: %s", td_err(err, e, sizeof(e)));
    }

    av_packet_free(&pkt);
    av_frame_free(&frame);

    return err < 0 ? -1 : 0;
}

/* --- the finished playlists ----------------------------------------------- */

#define TD_PLAYLIST_MAX  (16 * 1024 * 1024)

/*
 * dir/index.m3u8, written by the muxer as an EVENT playlist ending with
 * #EXT-X-ENDLIST, rewritten as the VOD playlist it now is (a temporary
 * file renamed over it: the daemon may be reading it)
 */
static int
td_playlist_vod(td_ctx_t *c, const char *dir)
{
    int          rc = -1;
    char         path[1300], tmp[1400], *buf = NULL, *type;
    FILE        *f = NULL;
    size_t       n;
    struct stat  sb;
    static const char  event[] = "#EXT-X-PLAYLIST-TYPE:EVENT\n";

    snprintf(path, sizeof(path), "%s/index.m3u8", dir);
    snprintf(tmp, sizeof(tmp), "%s/index.m3u8.vod", dir);

    f = fopen(path, "r");
    if (f == NULL || fstat(fileno(f), &sb) != 0 || sb.st_size <= 0
        || sb.st_size > TD_PLAYLIST_MAX)
    {
        td_fail(c->t, 0, "%s: %s", path, f ? "unexpected size"
                                           : strerror(errno));
        goto done;
    }
    buf = malloc((size_t) sb.st_size + 1);
    n = buf ? fread(buf, 1, (size_t) sb.st_size, f) : 0;
    fclose(f);
    f = NULL;
    if (n != (size_t) sb.st_size) {
        td_fail(c->t, 0, "%s: cannot read it", path);
        goto done;
    }
    buf[n] = '\0';

    type = strstr(buf, event);
    if (type == NULL || strstr(buf, "\n#EXT-X-ENDLIST") == NULL) {
        td_fail(c->t, 0, "%s: not a finished EVENT playlist", path);
        goto done;
    }

    f = fopen(tmp, "w");
    if (f == NULL) {
        td_fail(c->t, 0, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    fwrite(buf, 1, (size_t) (type - buf), f);
    fputs("#EXT-X-PLAYLIST-TYPE:VOD\n", f);
    fputs(type + sizeof(event) - 1, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        f = NULL;
        td_fail(c->t, 0, "%s: %s", path, strerror(errno));
        (void) unlink(tmp);
        goto done;
    }
    f = NULL;
    rc = 0;

done:
    if (f) {
        fclose(f);
    }
    free(buf);
    return rc;
}

static int
td_playlists_vod(td_ctx_t *c)
{
    int   i;
    char  dir[1200];

    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", c->t->outdir, c->r[i].name);
        if (td_playlist_vod(c, dir) != 0) {
            return -1;
        }
    }
    if (c->aidx >= 0) {
        snprintf(dir, sizeof(dir), "%s/audio", c->t->outdir);
        return td_playlist_vod(c, dir);
    }
    return 0;
}

/* --- measured bandwidth and the master playlist ------------------------- */

/* peak and average bits per second of a rendition's segments */
static int
td_measure(const char *dir, int64_t *peak, int64_t *avg)
{
    FILE     *f;
    char      path[1400], line[1024];
    double    dur = 0, total_dur = 0, bps;
    int64_t   total_bytes = 0;
    struct stat sb;

    *peak = 0;
    *avg = 0;

    snprintf(path, sizeof(path), "%s/index.m3u8", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }

    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "#EXTINF:", 8) == 0) {
            dur = atof(line + 8);
        } else if (line[0] && line[0] != '#') {
            snprintf(path, sizeof(path), "%s/%s", dir, line);
            if (stat(path, &sb) == 0 && dur > 0) {
                bps = sb.st_size * 8.0 / dur;
                if ((int64_t) bps > *peak) {
                    *peak = (int64_t) bps;
                }
                total_bytes += sb.st_size;
                total_dur += dur;
            }
        }
    }
    fclose(f);

    if (total_dur > 0) {
        *avg = (int64_t) (total_bytes * 8.0 / total_dur);
    }
    return total_dur > 0 ? 0 : -1;
}

/* the CODECS of a rendition: its SPS's, or High 4.2 as configured */
static const char *
td_codecs(const td_rendition_t *r)
{
    return r->codecs[0] ? r->codecs : "avc1.64002a";
}

static int
td_master(td_ctx_t *c)
{
    int       i;
    char      path[1200], dir[1200], download[64], iframes[64];
    FILE     *f;
    int64_t   apeak = 0, aavg = 0, vpeak, vavg;
    json_t   *rends;

    snprintf(path, sizeof(path), "%s/index.m3u8", c->t->outdir);
    f = fopen(path, "w");
    if (f == NULL) {
        td_fail(c->t, 0, "%s: %s", path, strerror(errno));
        return -1;
    }

    fprintf(f, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");

    if (c->aidx >= 0) {
        snprintf(dir, sizeof(dir), "%s/audio", c->t->outdir);
        td_measure(dir, &apeak, &aavg);
    }

    rends = json_array();

    if (c->vidx < 0) {
        fprintf(f, "#EXT-X-STREAM-INF:BANDWIDTH=%lld,AVERAGE-BANDWIDTH=%lld,"
                "CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n",
                (long long) apeak, (long long) aavg);
    } else if (c->aidx >= 0) {
        fprintf(f, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\","
                "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\","
                "URI=\"audio/index.m3u8\"\n");
    }

    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", c->t->outdir, c->r[i].name);
        td_measure(dir, &vpeak, &vavg);
        fprintf(f, "#EXT-X-STREAM-INF:BANDWIDTH=%lld,AVERAGE-BANDWIDTH=%lld,"
                "RESOLUTION=%dx%d,FRAME-RATE=%.3f,CODECS=\"%s%s\"%s\n"
                "%s/index.m3u8\n",
                (long long) (vpeak + apeak), (long long) (vavg + aavg),
                c->r[i].width, c->r[i].height, av_q2d(c->rate),
                td_codecs(&c->r[i]), c->aidx >= 0 ? ",mp4a.40.2" : "",
                c->aidx >= 0 ? ",AUDIO=\"aud\"" : "", c->r[i].name);
        snprintf(download, sizeof(download), "downloads/%s.mp4",
                 c->r[i].name);
        snprintf(iframes, sizeof(iframes), "%s/iframes.m3u8", c->r[i].name);
        json_array_append_new(rends,
            json_pack("{s:s, s:i, s:i, s:I, s:s, s:s}", "name", c->r[i].name,
                      "width", c->r[i].width, "height", c->r[i].height,
                      "bandwidth", (json_int_t) (vpeak + apeak),
                      "download", download, "iframes", iframes));
    }

    /* the I-frame playlists (trick play, scrubbing): video only */
    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        fprintf(f, "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%lld,"
                "AVERAGE-BANDWIDTH=%lld,RESOLUTION=%dx%d,CODECS=\"%s\","
                "URI=\"%s/iframes.m3u8\"\n",
                (long long) c->r[i].iframe_peak,
                (long long) c->r[i].iframe_avg, c->r[i].width,
                c->r[i].height, td_codecs(&c->r[i]), c->r[i].name);
    }

    c->t->renditions = rends;

    if (fclose(f) != 0) {
        td_fail(c->t, 0, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* each rendition as one MP4 with the audio (downloads/NAME.mp4), and in
 * the same read of its segments, its I-frame playlist (NAME/iframes.m3u8) */
static int
td_downloads(td_ctx_t *c)
{
    int            i, rc;
    char           dir[1200], e[256];
    td_iframes_t   index;

    for (i = 0; c->vidx >= 0 && i < c->nr; i++) {
        td_iframes_init(&index, c->rate);
        rc = td_download_mp4(c->t->outdir, c->r[i].name, c->aidx >= 0,
                             &c->t->interrupt, &index, &c->t->packets, e,
                             sizeof(e));
        if (rc == 0) {
            snprintf(dir, sizeof(dir), "%s/%s", c->t->outdir, c->r[i].name);
            rc = td_iframes_write(&index, dir, &c->r[i].iframe_peak,
                                  &c->r[i].iframe_avg, e, sizeof(e));
        }
        td_iframes_free(&index);
        if (rc != 0) {
            td_fail(c->t, 0, "%s", e);
            return -1;
        }
    }
    return 0;
}

/* --- GPU probing and the job --------------------------------------------- */

static AVBufferRef  *td_cuda_device;
static int           td_has_nvenc;

void
td_transcode_probe_gpu(int *nvenc, int *cuda)
{
    const AVCodec   *codec;
    AVCodecContext  *enc;

    *cuda = av_hwdevice_ctx_create(&td_cuda_device, AV_HWDEVICE_TYPE_CUDA,
                                   NULL, NULL, 0) >= 0;

    /* decided by trying, not by detecting CUDA */
    *nvenc = 0;
    codec = avcodec_find_encoder_by_name("h264_nvenc");
    enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (enc) {
        enc->width = 256;
        enc->height = 256;
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->time_base = (AVRational) { 1, 25 };
        *nvenc = avcodec_open2(enc, codec, NULL) >= 0;
        avcodec_free_context(&enc);
    }
    td_has_nvenc = *nvenc;
}

/*
 * The CUDA filters' kernels come as PTX that the driver compiles for the
 * device on first load (about 20 s for scale_cuda on an H200) and keeps in
 * its cache (CUDA_CACHE_PATH).  The daemon compiles them once, with
 * synthetic frames only, so that each confined renderer finds them in a
 * cache it may read but not write: a renderer a master took over cannot
 * plant code for the jobs after it.
 */
int
td_transcode_warm_gpu(char *err, size_t len)
{
    int               rc;
    unsigned          i;
    AVFrame          *frame = NULL;
    AVFilterGraph    *g;
    AVFilterContext  *sink = NULL;
    AVFilterInOut    *out = NULL;

    if (td_cuda_device == NULL) {
        snprintf(err, len, "no CUDA device");
        return -1;
    }

    g = avfilter_graph_alloc();
    rc = g ? avfilter_graph_create_filter(&sink, avfilter_get_by_name(
                                              "buffersink"), "out", NULL,
                                          NULL, g)
           : AVERROR(ENOMEM);
    if (rc >= 0) {
        out = avfilter_inout_alloc();
        rc = out ? 0 : AVERROR(ENOMEM);
    }
    if (rc >= 0) {
        out->name = av_strdup("out");
        out->filter_ctx = sink;
        rc = avfilter_graph_parse_ptr(g, "testsrc2=size=320x180:rate=25:"
                                      "duration=0.2,format=nv12,"
                                      "hwupload_cuda,yadif_cuda=deint=all,"
                                      "scale_cuda=160:90:format=yuv420p,"
                                      "hwdownload,format=yuv420p",
                                      &out, NULL, NULL);
    }
    for (i = 0; rc >= 0 && i < g->nb_filters; i++) {
        g->filters[i]->hw_device_ctx = av_buffer_ref(td_cuda_device);
    }
    if (rc >= 0) {
        rc = avfilter_graph_config(g, NULL);
    }
    frame = av_frame_alloc();
    while (rc >= 0 && frame) {
        rc = av_buffersink_get_frame(sink, frame);
        av_frame_unref(frame);
    }

    av_frame_free(&frame);
    avfilter_inout_free(&out);
    avfilter_graph_free(&g);

    if (rc < 0 && rc != AVERROR_EOF) {
        snprintf(err, len, "%s", av_err2str(rc));
        return -1;
    }
    return 0;
}

/* the daemon keeps no CUDA context: only renderers use the device */
void
td_transcode_release_gpu(void)
{
    av_buffer_unref(&td_cuda_device);
}

static void
td_close(td_ctx_t *c)
{
    int  i;

    for (i = 0; i < c->nr; i++) {
        if (c->r[i].started) {
            td_fifo_put(&c->r[i].fifo, NULL);
            pthread_join(c->r[i].thread, NULL);
        }
        avcodec_free_context(&c->r[i].enc);
        if (c->r[i].mux) {
            avformat_free_context(c->r[i].mux);
        }
    }
    avcodec_free_context(&c->aenc);
    if (c->amux) {
        avformat_free_context(c->amux);
    }
    av_frame_free(&c->poster_last);
    avfilter_graph_free(&c->vgraph);
    avfilter_graph_free(&c->agraph);
    avcodec_free_context(&c->vdec);
    avcodec_free_context(&c->adec);
    av_buffer_unref(&c->hw_device);
    td_input_close(&c->input);
    c->in = NULL;
}

/* on the first decoded picture, whose format decides the graph */
static int
td_video_start(td_ctx_t *c, const AVFrame *first)
{
    int  i;

    /* a stream may declare one size and decode another */
    if (!td_input_frame_ok(c->t->limits, first->width, first->height)) {
        td_fail(c->t, 1, "the frame is %dx%d, larger than the limit of "
                "%dx%d (max_frame)", first->width, first->height,
                c->t->limits->max_long_side, c->t->limits->max_short_side);
        return -1;
    }

    /* rotation has no GPU filter here: such sources are downloaded */
    c->gpu_frames = first->format == AV_PIX_FMT_CUDA && c->rotation == 0
                    && first->hw_frames_ctx != NULL;
    c->used_gpu = first->format == AV_PIX_FMT_CUDA
                  || strcmp(c->video_encoder, "libx264") != 0;

    c->encoder_name = strcmp(c->video_encoder, "h264_nvenc") == 0
                      ? "h264_nvenc"
                      : first->format == AV_PIX_FMT_CUDA
                        ? "libx264+cuda-decode" : "libx264";

    if (td_video_graph(c, first) != 0) {
        return -1;
    }

    for (i = 0; i < c->nr; i++) {
        if (td_open_video_encoder(c, i, c->video_encoder) != 0) {
            return -1;
        }
    }

    for (i = 0; i < c->nr; i++) {
        if (pthread_create(&c->r[i].thread, NULL, td_encoder_thread,
                           &c->r[i]) != 0)
        {
            td_fail(c->t, 0, "cannot start an encoder thread");
            return -1;
        }
        c->r[i].started = 1;
    }

    td_log(c->t->job, "encoder %s, %d rendition(s), %dx%d at %d/%d fps%s",
           c->encoder_name, c->nr, c->disp_w, c->disp_h, c->rate.num,
           c->rate.den, c->gpu_frames ? ", frames on the GPU" : "");

    return 0;
}

static int
td_setup(td_ctx_t *c, td_encoder_mode_t mode, const char *encoder)
{
    int  i, hw;

    hw = mode != TD_ENC_X264 && td_cuda_device != NULL;
    if (hw) {
        c->hw_device = av_buffer_ref(td_cuda_device);
    }

    if (c->vidx >= 0) {
        if (td_open_decoder(c, c->in->streams[c->vidx], &c->vdec, hw) != 0) {
            return -1;
        }
        td_plan(c);
        c->video_encoder = encoder;
        for (i = 0; i < c->nr; i++) {
            td_fifo_init(&c->r[i].fifo);
            c->r[i].packets = &c->t->packets;
        }
    }

    if (c->aidx >= 0) {
        if (td_open_decoder(c, c->in->streams[c->aidx], &c->adec, 0) != 0
            || td_audio_graph(c) != 0 || td_open_audio(c) != 0)
        {
            return -1;
        }
    }

    return 0;
}

static int
td_transcode_once(td_transcode_t *t, td_encoder_mode_t mode, int pass,
    int *used_gpu)
{
    int        rc, i, gpu_enc;
    char       e[256];
    td_ctx_t   c;

    memset(&c, 0, sizeof(c));
    c.t = t;
    c.pass = pass;
    t->error[0] = '\0';
    t->permanent = 0;

    gpu_enc = (mode == TD_ENC_AUTO || mode == TD_ENC_NVENC) && td_has_nvenc;
    c.encoder_name = "libx264";

    rc = td_probe(&c);
    if (rc == 0) {
        rc = td_setup(&c, mode, gpu_enc ? "h264_nvenc" : "libx264");
    }
    if (rc == 0) {
        rc = td_run(&c);
    }

    for (i = 0; i < c.nr; i++) {
        if (c.r[i].started) {
            td_fifo_put(&c.r[i].fifo, NULL);
            pthread_join(c.r[i].thread, NULL);
            c.r[i].started = 0;
            if (c.r[i].failed) {
                td_fail(t, 0, "%s", c.r[i].error);
                rc = -1;
            }
        }
    }

    if (rc == 0 && c.vidx >= 0 && c.vframes == 0) {
        td_fail(t, 1, "the video stream holds no decodable picture");
        rc = -1;
    }
    if (rc == 0) {
        td_tell_outputs(&c);        /* a clip too short to tell earlier */
        rc = td_playlists_vod(&c);
    }

    if (rc == 0 && c.vidx >= 0
        && td_thumbs_vtt(&c.thumbs, t->outdir, c.vframes, e, sizeof(e)) != 0)
    {
        td_fail(t, 0, "%s", e);
        rc = -1;
    }
    if (rc == 0) {
        rc = td_downloads(&c);
    }
    if (rc == 0) {
        td_metadata(&c);
        rc = td_master(&c);
    }

    *used_gpu = c.used_gpu;
    td_close(&c);

    return rc;
}

static int
td_clear_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
    (void) st;
    if (ftw->level == 0) {
        return 0;
    }
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int
td_transcode(td_transcode_t *t)
{
    int  rc, used_gpu;

    if (t->threads < 1) {
        t->threads = 1;
    }

    rc = td_transcode_once(t, t->mode, 0, &used_gpu);

    /* a GPU path that fails is not the job's fault: libx264 for this job */
    if (rc != 0 && used_gpu && !t->permanent && strcmp(t->error, "stopped"))
    {
        td_log(t->job, "GPU path failed (%s); this job goes to libx264",
               t->error);
        json_decref(t->metadata);
        json_decref(t->renditions);
        t->metadata = NULL;
        t->renditions = NULL;
        nftw(t->outdir, td_clear_entry, 16, FTW_DEPTH | FTW_PHYS);
        rc = td_transcode_once(t, TD_ENC_X264, 1, &used_gpu);
    }

    return rc;
}

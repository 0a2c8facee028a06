/*
 * Opening a master (input.h).  The file is opened here, by us, and handed
 * to libavformat as a custom AVIOContext: no protocol is involved in
 * reading it, and io_open refuses every other resource a demuxer might ask
 * for (a playlist's segments, a reference's targets).  The demuxer is the
 * one the probe names, and only when the allow-list holds it; the
 * whitelists are set as well, so that a change here cannot quietly widen
 * what libavformat accepts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>

#include "input.h"

#define TD_INPUT_BUFFER  65536

/* below this probe score a format outside the list is a guess about a file
 * that is no media at all, not a container we refuse */
#define TD_PROBE_SURE    AVPROBE_SCORE_EXTENSION


void
td_limits_default(td_limits_t *l)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->formats, sizeof(l->formats), "%s", TD_INPUT_FORMATS);
    l->max_long_side = 8192;
    l->max_short_side = 4320;
    l->max_duration = 12 * 3600;
    l->max_streams = 16;
    l->max_frame_rate = 240;
    l->probe_size = 10 * 1000 * 1000;
    l->analyze_us = 10 * 1000 * 1000;
}

int
td_limits_parse_frame(td_limits_t *l, const char *v)
{
    int   w, h, n;

    if (sscanf(v, "%dx%d%n", &w, &h, &n) != 2 || v[n] != '\0'
        || w < 16 || h < 16 || w > 65536 || h > 65536)
    {
        return -1;
    }
    l->max_long_side = w > h ? w : h;
    l->max_short_side = w > h ? h : w;
    return 0;
}

int
td_input_frame_ok(const td_limits_t *l, int w, int h)
{
    int  lo = w < h ? w : h, hi = w < h ? h : w;

    return w > 0 && h > 0 && hi <= l->max_long_side
           && lo <= l->max_short_side;
}

static int
td_input_read(void *opaque, uint8_t *buf, int size)
{
    ssize_t      n;
    td_input_t  *in = opaque;

    do {
        n = read(in->fd, buf, (size_t) size);
    } while (n < 0 && errno == EINTR);

    if (n < 0) {
        in->io_errno = errno;
        return AVERROR(errno);
    }
    if (n == 0) {
        return AVERROR_EOF;
    }
    __atomic_add_fetch(in->bytes, (int64_t) n, __ATOMIC_RELAXED);
    return (int) n;
}

static int64_t
td_input_seek(void *opaque, int64_t offset, int whence)
{
    off_t        at;
    struct stat  st;
    td_input_t  *in = opaque;

    if (whence & AVSEEK_SIZE) {
        return fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)
               ? (int64_t) st.st_size : AVERROR(ENOSYS);
    }
    at = lseek(in->fd, (off_t) offset, whence & ~AVSEEK_FORCE);
    return at < 0 ? AVERROR(errno) : (int64_t) at;
}

/* a demuxer asking for any other resource than the master itself */
static int
td_input_io_refuse(AVFormatContext *s, AVIOContext **pb, const char *url,
    int flags, AVDictionary **options)
{
    (void) pb;
    (void) flags;
    (void) options;
    av_log(s, AV_LOG_ERROR, "refused to open \"%s\" from a master\n", url);
    return AVERROR(EPERM);
}

static int
td_input_file(td_input_t *in, const char *path, char *err, size_t len,
    int *permanent)
{
    int          flags;
    struct stat  st;

    /* O_NONBLOCK: a FIFO opens without waiting for its writer */
    in->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY
                        | O_NONBLOCK);
    if (in->fd < 0) {
        *permanent = errno == ELOOP;
        snprintf(err, len, errno == ELOOP
                 ? "the master is a symbolic link: refused"
                 : "cannot read the master: %s", strerror(errno));
        return -1;
    }

    if (fstat(in->fd, &st) != 0) {
        *permanent = 0;
        snprintf(err, len, "cannot read the master: %s", strerror(errno));
        return -1;
    }

    /* devices, sockets and folders are never masters; a FIFO is read as a
     * stream (the stall watchdog ends one that stops) */
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        *permanent = 1;
        snprintf(err, len, "the master is not a regular file: refused");
        return -1;
    }

    flags = fcntl(in->fd, F_GETFL);
    if (flags < 0 || fcntl(in->fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        *permanent = 0;
        snprintf(err, len, "cannot read the master: %s", strerror(errno));
        return -1;
    }

    return 0;
}

/* what the headers declare, before any frame is decoded */
static int
td_input_limits(const td_limits_t *l, AVFormatContext *fc, char *err,
    size_t len)
{
    unsigned            i;
    double              fps;
    AVStream           *st;
    AVCodecParameters  *par;

    if (fc->nb_streams > (unsigned) l->max_streams) {
        snprintf(err, len, "the file has %u streams, more than the limit "
                 "of %d (max_streams)", fc->nb_streams, l->max_streams);
        return -1;
    }

    if (fc->duration != AV_NOPTS_VALUE
        && fc->duration > (int64_t) l->max_duration * AV_TIME_BASE)
    {
        snprintf(err, len, "the file lasts %.0f s, longer than the limit "
                 "of %d s (max_duration)",
                 (double) fc->duration / AV_TIME_BASE, l->max_duration);
        return -1;
    }

    for (i = 0; i < fc->nb_streams; i++) {
        st = fc->streams[i];
        par = st->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_VIDEO) {
            continue;
        }

        if ((par->width || par->height)
            && !td_input_frame_ok(l, par->width, par->height))
        {
            snprintf(err, len, "the frame is %dx%d, larger than the limit "
                     "of %dx%d (max_frame)", par->width, par->height,
                     l->max_long_side, l->max_short_side);
            return -1;
        }

        fps = st->avg_frame_rate.den > 0 ? av_q2d(st->avg_frame_rate) : 0;
        if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC)
            && fps > l->max_frame_rate)
        {
            snprintf(err, len, "the frame rate is %.2f fps, above the limit "
                     "of %d (max_frame_rate)", fps, l->max_frame_rate);
            return -1;
        }
    }

    return 0;
}

/* the demuxer the content asks for, if the list allows it */
static int
td_input_probe(td_input_t *in, const char *path, const td_limits_t *l,
    const AVInputFormat **fmt, char *err, size_t len, int *permanent)
{
    int  score;

    *fmt = NULL;
    score = av_probe_input_buffer2(in->pb, fmt, path, NULL, 0,
                                   (unsigned) l->probe_size);
    if (score < 0 || *fmt == NULL) {
        *permanent = in->io_errno == 0;
        snprintf(err, len, in->io_errno
                 ? "cannot read the master: %s"
                 : "not a media file this server can read (%s)",
                 in->io_errno ? strerror(in->io_errno)
                 : score == AVERROR_EOF ? "empty" : av_err2str(score));
        return -1;
    }

    if (av_match_list((*fmt)->name, l->formats, ',') <= 0) {
        *permanent = 1;
        if (score < TD_PROBE_SURE) {
            snprintf(err, len, "not a media file this server can read (no "
                     "known container)");
        } else {
            snprintf(err, len, "not a supported media container: %s",
                     (*fmt)->name);
        }
        return -1;
    }

    return 0;
}

int
td_input_open(td_input_t *in, const char *path, const td_limits_t *l,
    const AVIOInterruptCB *icb, int64_t *bytes, char *err, size_t len,
    int *permanent)
{
    int                   rc;
    unsigned              i, nopts;
    char                  pixels[32];
    uint8_t              *buf;
    AVDictionary        **sopts;
    const AVInputFormat  *fmt;

    memset(in, 0, sizeof(*in));
    in->fd = -1;
    in->bytes = bytes ? bytes : &in->own_bytes;
    *permanent = 0;

    if (td_input_file(in, path, err, len, permanent) != 0) {
        return -1;
    }

    buf = av_malloc(TD_INPUT_BUFFER);
    in->pb = buf ? avio_alloc_context(buf, TD_INPUT_BUFFER, 0, in,
                                      td_input_read, NULL, td_input_seek)
                 : NULL;
    in->fc = avformat_alloc_context();
    if (in->pb == NULL || in->fc == NULL) {
        if (in->pb == NULL) {
            av_free(buf);
        }
        snprintf(err, len, "out of memory");
        return -1;
    }
    in->pb->seekable = lseek(in->fd, 0, SEEK_CUR) < 0 ? 0
                                                      : AVIO_SEEKABLE_NORMAL;

    if (td_input_probe(in, path, l, &fmt, err, len, permanent) != 0) {
        return -1;
    }

    in->fc->pb = in->pb;
    in->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    in->fc->io_open = td_input_io_refuse;
    in->fc->probesize = l->probe_size;
    in->fc->max_analyze_duration = l->analyze_us;
    /* one more than allowed, so that the count is ours to report */
    in->fc->max_streams = l->max_streams + 1;
    in->fc->format_whitelist = av_strdup(l->formats);
    in->fc->protocol_whitelist = av_strdup("file");
    if (icb) {
        in->fc->interrupt_callback = *icb;
    }

    rc = avformat_open_input(&in->fc, path, fmt, NULL);
    if (rc < 0) {
        /* avformat_open_input frees the context on failure; demuxers say
         * EIO for bad data too, so only a failed read() blames storage */
        *permanent = in->io_errno == 0 && rc != AVERROR_EXIT;
        if (rc == AVERROR(ENOMEM)) {
            snprintf(err, len, "the file has more streams than the limit of "
                     "%d (max_streams) or needs more memory than allowed "
                     "(memory_limit)", l->max_streams);
        } else {
            snprintf(err, len, "not a media file this server can read (%s)",
                     av_err2str(rc));
        }
        return -1;
    }

    *permanent = 1;
    if (td_input_limits(l, in->fc, err, len) != 0) {
        return -1;
    }

    /* the decoders that find_stream_info opens get the frame limit too
     * (streams it discards on the way, as FLV's, are bounded by the checks
     * after it and by the renderer's own decoders); it may add streams, so
     * the options are counted as they were made */
    snprintf(pixels, sizeof(pixels), "%lld",
             (long long) l->max_long_side * l->max_short_side);
    nopts = in->fc->nb_streams;
    sopts = av_calloc(nopts ? nopts : 1, sizeof(*sopts));
    for (i = 0; sopts && i < nopts; i++) {
        av_dict_set(&sopts[i], "max_pixels", pixels, 0);
    }

    rc = avformat_find_stream_info(in->fc, sopts);

    for (i = 0; sopts && i < nopts; i++) {
        av_dict_free(&sopts[i]);
    }
    av_free(sopts);

    if (rc < 0) {
        *permanent = in->io_errno == 0 && rc != AVERROR_EXIT;
        snprintf(err, len, "not a media file this server can read (%s)",
                 av_err2str(rc));
        return -1;
    }

    /* find_stream_info fills in what headers left out */
    return td_input_limits(l, in->fc, err, len);
}

void
td_input_close(td_input_t *in)
{
    if (in->fc) {
        avformat_close_input(&in->fc);
    }
    if (in->pb) {
        av_freep(&in->pb->buffer);
        avio_context_free(&in->pb);
    }
    if (in->fd >= 0) {
        close(in->fd);
        in->fd = -1;
    }
}

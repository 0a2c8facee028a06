/*
 * libFuzzer target: the renderer's opening of an untrusted master
 * (td_input_open in transcoderd/input.c) with the default allow-list and
 * limits, then a bounded read of packets and a few decoded frames.
 *
 * The input is written to a file in a folder made once (td_input_open
 * opens a path with O_NOFOLLOW, so /proc/self/fd/N of a memfd is refused).
 * The file's extension comes from the input's last byte: a local master is
 * kept as original.EXT with the uploader's extension, an S3 one as
 * JOB.master, and the probe weighs the extension.
 *
 * Invariants, besides no crash, leak or sanitizer report:
 * - accepted: the demuxer is on the allow-list, the streams, frame sizes,
 *   frame rates and duration are within the limits, packets name existing
 *   streams, decoded video frames hold at most max_pixels;
 * - refused: the message is not empty, the refusal is permanent (the
 *   file is readable, so the failure is the file's, never the storage's),
 *   and "not a supported media container: X" names an X that is not on
 *   the allow-list;
 * - nothing but the master is opened by name (open/openat are interposed
 *   here while libav* runs: a nested resource must go through io_open,
 *   which refuses it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/log.h>

#include "input.h"

#define MAX_PACKETS  200
#define MAX_DECODE   16      /* packets sent to each decoder */

static const char  *exts[] = {
    "master", "", "mp4", "mov", "m4a", "mkv", "webm", "avi", "ts", "mxf",
    "wav", "flac", "mp3", "ogg", "aac", "ac3", "mpg", "flv", "wmv", "dv",
    "caf", "aiff", "m3u8", "mpd", "ffconcat", "txt", "jpg", "sdp",
};

static char         dir[256];
static char         path[320];
static td_limits_t  limits;
static int          armed;      /* libav* runs: only the master opens */


/* every open by name while armed is the master's, or the run aborts */
static int
probe_open(int at, const char *name, int flags, mode_t mode)
{
    if (armed && strcmp(name, path) != 0) {
        fprintf(stderr, "probe: \"%s\" opened from a master\n", name);
        abort();
    }
    return (int) syscall(SYS_openat, at, name, flags, mode);
}

#define PROBE_MODE(flags, mode)                                           \
    do {                                                                  \
        va_list  ap;                                                      \
        mode = 0;                                                         \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {                          \
            va_start(ap, flags);                                          \
            mode = (mode_t) va_arg(ap, int);                              \
            va_end(ap);                                                   \
        }                                                                 \
    } while (0)

int
open(const char *name, int flags, ...)
{
    mode_t  mode;

    PROBE_MODE(flags, mode);
    return probe_open(AT_FDCWD, name, flags, mode);
}

int
open64(const char *name, int flags, ...)
{
    mode_t  mode;

    PROBE_MODE(flags, mode);
    return probe_open(AT_FDCWD, name, flags, mode);
}

int
openat(int at, const char *name, int flags, ...)
{
    mode_t  mode;

    PROBE_MODE(flags, mode);
    return probe_open(at, name, flags, mode);
}

int
openat64(int at, const char *name, int flags, ...)
{
    mode_t  mode;

    PROBE_MODE(flags, mode);
    return probe_open(at, name, flags, mode);
}

static void
probe_cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *tmp = getenv("TMPDIR");

    (void) argc;
    (void) argv;

    av_log_set_level(AV_LOG_QUIET);
    td_limits_default(&limits);

    snprintf(dir, sizeof(dir), "%s/mam-fuzz-probe.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("probe: mkdtemp");
        exit(1);
    }
    atexit(probe_cleanup);
    return 0;
}

static int
probe_write(const uint8_t *data, size_t size)
{
    int          fd;
    ssize_t      n;
    const char  *ext;

    ext = exts[size ? data[size - 1] % (sizeof(exts) / sizeof(exts[0])) : 0];
    snprintf(path, sizeof(path), "%s/%s%s%s", dir,
             strcmp(ext, "master") == 0 ? "job" : "original",
             *ext ? "." : "", ext);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("probe: open");
        exit(1);
    }
    while (size > 0) {
        n = write(fd, data, size);
        if (n <= 0) {
            perror("probe: write");
            exit(1);
        }
        data += n;
        size -= (size_t) n;
    }
    close(fd);
    return 0;
}

/* the renderer's decoder settings (td_open_decoder), on one thread */
static AVCodecContext *
probe_decoder(AVStream *st)
{
    const AVCodec   *codec;
    AVCodecContext  *dec;

    codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == NULL) {
        return NULL;
    }
    dec = avcodec_alloc_context3(codec);
    if (dec == NULL || avcodec_parameters_to_context(dec, st->codecpar) < 0) {
        avcodec_free_context(&dec);
        return NULL;
    }
    dec->pkt_timebase = st->time_base;
    dec->thread_count = 1;
    dec->max_pixels = (int64_t) limits.max_long_side * limits.max_short_side;
    if (avcodec_open2(dec, codec, NULL) < 0) {
        avcodec_free_context(&dec);
        return NULL;
    }
    return dec;
}

static void
probe_decode(AVCodecContext *dec, const AVPacket *pkt, AVFrame *frame)
{
    if (avcodec_send_packet(dec, pkt) < 0) {
        return;
    }
    while (avcodec_receive_frame(dec, frame) == 0) {
        if (dec->codec_type == AVMEDIA_TYPE_VIDEO
            && (frame->width < 0 || frame->height < 0
                || (int64_t) frame->width * frame->height > dec->max_pixels))
        {
            fprintf(stderr, "probe: %s decoded a %dx%d frame\n",
                    dec->codec->name, frame->width, frame->height);
            abort();
        }
        av_frame_unref(frame);
    }
}

static void
probe_accepted(AVFormatContext *fc)
{
    int              vidx = -1, aidx, sent[2] = { 0, 0 }, n;
    double           fps;
    unsigned         i;
    AVPacket        *pkt;
    AVFrame         *frame;
    AVStream        *st;
    AVCodecContext  *dec[2] = { NULL, NULL };

    if (av_match_list(fc->iformat->name, limits.formats, ',') <= 0) {
        fprintf(stderr, "probe: demuxer %s accepted\n", fc->iformat->name);
        abort();
    }
    if (fc->nb_streams > (unsigned) limits.max_streams) {
        fprintf(stderr, "probe: %u streams accepted\n", fc->nb_streams);
        abort();
    }
    if (fc->duration != AV_NOPTS_VALUE
        && fc->duration > (int64_t) limits.max_duration * AV_TIME_BASE)
    {
        fprintf(stderr, "probe: duration %lld accepted\n",
                (long long) fc->duration);
        abort();
    }

    for (i = 0; i < fc->nb_streams; i++) {
        st = fc->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) {
            continue;
        }
        if ((st->codecpar->width || st->codecpar->height)
            && !td_input_frame_ok(&limits, st->codecpar->width,
                                  st->codecpar->height))
        {
            fprintf(stderr, "probe: a %dx%d frame accepted\n",
                    st->codecpar->width, st->codecpar->height);
            abort();
        }
        fps = st->avg_frame_rate.den > 0 ? av_q2d(st->avg_frame_rate) : 0;
        if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC)
            && fps > limits.max_frame_rate)
        {
            fprintf(stderr, "probe: %.2f fps accepted\n", fps);
            abort();
        }
        if (vidx < 0 && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            vidx = (int) i;
        }
    }
    aidx = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

    if (vidx >= 0) {
        dec[0] = probe_decoder(fc->streams[vidx]);
    }
    if (aidx >= 0) {
        dec[1] = probe_decoder(fc->streams[aidx]);
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (pkt == NULL || frame == NULL) {
        abort();
    }

    for (n = 0; n < MAX_PACKETS && av_read_frame(fc, pkt) >= 0; n++) {
        /* streams found while reading (mpegts, flv) stay within libav's
         * cap: input.c sets it one above the limit, to report the count */
        if (pkt->stream_index < 0
            || (unsigned) pkt->stream_index >= fc->nb_streams
            || fc->nb_streams > (unsigned) limits.max_streams + 1)
        {
            fprintf(stderr, "probe: packet of stream %d of %u\n",
                    pkt->stream_index, fc->nb_streams);
            abort();
        }
        for (i = 0; i < 2; i++) {
            if (dec[i] && pkt->stream_index == (i ? aidx : vidx)
                && sent[i]++ < MAX_DECODE)
            {
                probe_decode(dec[i], pkt, frame);
            }
        }
        av_packet_unref(pkt);
    }

    for (i = 0; i < 2; i++) {
        if (dec[i]) {
            probe_decode(dec[i], NULL, frame);
            avcodec_free_context(&dec[i]);
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc, permanent;
    char         err[512];
    const char  *name;
    td_input_t   in;
    static const char  refused[] = "not a supported media container: ";

    probe_write(data, size);

    err[0] = '\0';
    armed = 1;
    rc = td_input_open(&in, path, &limits, NULL, NULL, err, sizeof(err),
                       &permanent);
    if (rc == 0) {
        probe_accepted(in.fc);
    }
    armed = 0;

    if (rc != 0) {
        if (err[0] == '\0') {
            fprintf(stderr, "probe: refused without a message\n");
            abort();
        }
        /* the file is there and readable: whatever fails is its fault */
        if (!permanent) {
            fprintf(stderr, "probe: refused as the storage's fault: %s\n",
                    err);
            abort();
        }
        if (strncmp(err, refused, sizeof(refused) - 1) == 0) {
            name = err + sizeof(refused) - 1;
            if (*name == '\0' || av_match_list(name, limits.formats, ',') > 0)
            {
                fprintf(stderr, "probe: %s\n", err);
                abort();
            }
        }
    }

    td_input_close(&in);
    unlink(path);
    return 0;
}

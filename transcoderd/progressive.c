/*
 * Publishing the ladder while it renders (progressive.h).
 *
 * What the renderer leaves is read as untrusted, like its pipe: a playlist
 * is read only up to a bound, only "#EXTINF:" lines and the names after
 * them count, and the n-th name must be segment_NNN.ts with n (the HLS
 * muxer's names, td_open_mux), a plain file, never a link; the shape of
 * the ladder (names, sizes, CODECS) comes from the renderer's "S" line and
 * is checked before a byte of it is written.  Anything unexpected stops
 * the progressive publishing of the attempt (logged): the ladder is then
 * published at the end, as before.
 *
 * Order, so that a reader never meets a name that is not whole:
 *   segment (local: a link, as the store places files; S3: a PUT)
 *   -> the rendition's EVENT playlist naming only published segments
 *      (local: a temporary name renamed over; S3: a PUT, atomic per
 *      object)
 *   -> once every stream has its first segment, the master playlist.
 * The renderer's muxers give a segment its name only once it is closed,
 * and name it in their playlist only after that (temp_file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "progressive.h"

#define TD_PROG_STREAMS       5           /* 4 renditions and the audio */
#define TD_PROG_SEGMENTS_MAX  100000      /* 6 s each: a week */
#define TD_PROG_PLAYLIST_MAX  (8 * 1024 * 1024)
#define TD_PROG_MASTER_MAX    (64 * 1024)
#define TD_PROG_TARGET        6           /* s: the muxers' hls_time */
#define TD_PROG_EVERY         0.5         /* s between two looks */

typedef struct {
    char      name[16];           /* "720p", "audio" */
    int       width, height;      /* 0 for the audio */
    char      codecs[32];
    double   *dur;                /* each published segment's duration */
    int       n, cap;
    int       target;             /* EXT-X-TARGETDURATION */
    int64_t   bytes, peak;        /* published bytes, peak bit rate */
    double    seconds;
    struct timespec  seen;        /* the renderer's playlist last read */
    off_t     seen_size;
} td_stream_t;

struct td_progressive_s {
    const td_config_t  *cf;
    char                job[64];
    char                tmp[2300];       /* the renderer's folder */
    char                prefix[MAM_KEY_MAX_LEN + 1];
    char                scratch[2400];   /* our playlists before a put */
    int                 pass;            /* the shape published, -1 none */
    int                 nstreams;
    td_stream_t         s[TD_PROG_STREAMS];
    int                 audio;
    double              frame_rate;
    int                 master;          /* the master is published */
    int                 published;       /* anything is */
    int                 stopped;         /* no more progressive publishing */
    double              last;
    void              (*busy)(void *data, int on);
    void               *busy_data;
};


static double
td_prog_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
td_progressive_on_busy(td_progressive_t *p, void (*busy)(void *data, int on),
    void *data)
{
    p->busy = busy;
    p->busy_data = data;
}

/* a file put through the store, the caller told */
static int
td_prog_put(td_progressive_t *p, const char *file, const char *key)
{
    int   rc;
    char  err[512];

    if (p->busy) {
        p->busy(p->busy_data, 1);
    }
    rc = mam_store_put(&p->cf->store, file, key, err, sizeof(err));
    if (p->busy) {
        p->busy(p->busy_data, 0);
    }
    if (rc != MAM_STORAGE_OK) {
        td_log(p->job, "publishing %s: %s", key, err);
        return -1;
    }
    return 0;
}

static void
td_prog_stop(td_progressive_t *p, const char *why)
{
    if (!p->stopped) {
        td_log(p->job, "publishing progressively stops: %s (the ladder is "
               "published when it is finished)", why);
    }
    p->stopped = 1;
}

/* a local file of at most max bytes, NUL-terminated; NULL when absent,
 * or (odd set) when it cannot be read, is not a plain file (a link) or is
 * larger than max */
static char *
td_prog_read(const char *path, size_t max, int *odd)
{
    int          fd;
    char        *buf;
    ssize_t      n;
    size_t       got = 0;
    struct stat  sb;

    *odd = 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *odd = errno != ENOENT;
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)
        || (size_t) sb.st_size > max)
    {
        *odd = 1;
        close(fd);
        return NULL;
    }

    buf = malloc((size_t) sb.st_size + 1);
    if (buf == NULL) {
        *odd = 1;
        close(fd);
        return NULL;
    }
    while (got < (size_t) sb.st_size) {
        n = read(fd, buf + got, (size_t) sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t) n;
    }
    close(fd);
    buf[got] = '\0';
    return buf;
}

/* is a complete ladder published at prefix?  1 yes, 0 none or one an
 * interrupted progressive attempt left, -1 storage trouble */
static int
td_prog_finished_ladder(const td_config_t *cf, const char *prefix,
    const char *scratch, char *err, size_t len)
{
    int    rc, odd;
    char   key[MAM_KEY_MAX_LEN + 1], path[2400], why[256], *text;

    if (snprintf(key, sizeof(key), "%s/index.m3u8", prefix)
        >= (int) sizeof(key))
    {
        snprintf(err, len, "storage key too long: %s", prefix);
        return -1;
    }

    if (cf->store.kind == MAM_STORE_S3) {
        rc = mam_store_download(&cf->store, key, scratch, why, sizeof(why));
        if (rc == MAM_STORAGE_MISSING) {
            return 0;
        }
        if (rc != MAM_STORAGE_OK) {
            snprintf(err, len, "cannot read %s from S3 (%s)", key, why);
            (void) unlink(scratch);
            return -1;
        }
        snprintf(path, sizeof(path), "%s", scratch);
    } else if (mam_store_path(&cf->store, key, path, sizeof(path)) != 0) {
        snprintf(err, len, "invalid storage key %s", key);
        return -1;
    }

    text = td_prog_read(path, TD_PROG_MASTER_MAX, &odd);
    if (cf->store.kind == MAM_STORE_S3) {
        (void) unlink(scratch);
    }
    if (text == NULL) {
        /* none, or not ours to judge: a master playlist that cannot be
         * read is taken for a finished ladder, which stays until
         * replaced, rather than removed */
        return odd;
    }
    rc = strstr(text, "\n" TD_PROGRESSIVE_MARK) == NULL;
    free(text);
    return rc;
}

int
td_progressive_start(const td_config_t *cf, const char *job,
    const char *tmp, const char *prefix, td_progressive_t **out,
    int *withdrawn, char *err, size_t len)
{
    int                rc;
    off_t              size;
    char               key[MAM_KEY_MAX_LEN + 1];
    td_progressive_t  *p;

    *out = NULL;
    *withdrawn = 0;

    p = calloc(1, sizeof(td_progressive_t));
    if (p == NULL) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    p->cf = cf;
    p->pass = -1;
    snprintf(p->job, sizeof(p->job), "%s", job);
    if (snprintf(p->tmp, sizeof(p->tmp), "%s", tmp) >= (int) sizeof(p->tmp)
        || snprintf(p->prefix, sizeof(p->prefix), "%s", prefix)
           >= (int) sizeof(p->prefix)
        || snprintf(p->scratch, sizeof(p->scratch), "%s.m3u8", tmp)
           >= (int) sizeof(p->scratch))
    {
        snprintf(err, len, "storage paths too long");
        free(p);
        return -1;
    }

    rc = td_prog_finished_ladder(cf, prefix, p->scratch, err, len);
    if (rc != 0) {
        free(p);
        if (rc > 0) {
            td_log(job, "a finished ladder is published: it stays until "
                   "this one replaces it (no progressive publishing)");
        }
        return rc > 0 ? 0 : -1;
    }

    /* a leftover of an interrupted attempt: its playlist, then the rest */
    snprintf(key, sizeof(key), "%s/index.m3u8", prefix);
    if (mam_store_size(&cf->store, key, &size) == MAM_STORAGE_OK
        && size >= 0)
    {
        *withdrawn = 1;
    }
    if ((*withdrawn && mam_store_remove(&cf->store, key) != MAM_STORAGE_OK)
        || mam_store_remove_folder(&cf->store, prefix) != MAM_STORAGE_OK)
    {
        snprintf(err, len, "cannot remove what an interrupted attempt "
                 "published at %s: %s", prefix, strerror(errno));
        free(p);
        return -1;
    }

    if (*withdrawn) {
        td_log(job, "removed the progressive ladder an interrupted attempt "
               "left at %s", prefix);
    }
    *out = p;
    return 0;
}

static void
td_prog_reset(td_progressive_t *p)
{
    int  i;

    for (i = 0; i < TD_PROG_STREAMS; i++) {
        free(p->s[i].dur);
    }
    memset(p->s, 0, sizeof(p->s));
    p->nstreams = 0;
    p->master = 0;
    p->pass = -1;
}

/* "1080p" .. "2p": digits then "p", as td_plan names renditions */
static int
td_prog_name_ok(const char *s)
{
    size_t  n = strspn(s, "0123456789");

    return n >= 1 && n <= 4 && strcmp(s + n, "p") == 0;
}

static int
td_prog_codecs_ok(const char *s)
{
    return strlen(s) == 11 && strncmp(s, "avc1.", 5) == 0
           && strspn(s + 5, "0123456789abcdef") == 6;
}

/* the renderer's "S" line: 0 taken, -1 refused */
static int
td_prog_shape(td_progressive_t *p, json_t *o)
{
    int          audio, w, h;
    size_t       i;
    double       rate;
    json_t      *rends, *r;
    json_int_t   pass;
    const char  *name, *codecs;
    td_stream_t *st;

    if (json_unpack(o, "{s:I, s:o, s:b, s:F}", "pass", &pass, "renditions",
                    &rends, "audio", &audio, "frame_rate", &rate) != 0
        || !json_is_array(rends) || json_array_size(rends) > 4
        || pass < 0 || pass > 1 || !(rate >= 0 && rate <= 240)
        || (json_array_size(rends) == 0 && !audio))
    {
        return -1;
    }

    td_prog_reset(p);

    json_array_foreach(rends, i, r) {
        if (json_unpack(r, "{s:s, s:i, s:i, s:s}", "name", &name, "width",
                        &w, "height", &h, "codecs", &codecs) != 0
            || !td_prog_name_ok(name) || !td_prog_codecs_ok(codecs)
            || w < 2 || h < 2 || w > 8192 || h > 8192)
        {
            return -1;
        }
        st = &p->s[p->nstreams++];
        snprintf(st->name, sizeof(st->name), "%s", name);
        snprintf(st->codecs, sizeof(st->codecs), "%s", codecs);
        st->width = w;
        st->height = h;
    }
    if (audio) {
        snprintf(p->s[p->nstreams++].name, sizeof(p->s[0].name), "audio");
    }

    p->audio = audio;
    p->frame_rate = rate;
    p->pass = (int) pass;
    return 0;
}

/* our own file at key: written to the scratch name (a new file each time:
 * a local put links it, so rewriting it in place would change what is
 * published), put, removed */
static int
td_prog_put_text(td_progressive_t *p, const char *key, const char *text)
{
    int    rc, fd;
    size_t n = strlen(text);

    (void) unlink(p->scratch);
    fd = open(p->scratch, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        td_log(p->job, "%s: %s", p->scratch, strerror(errno));
        return -1;
    }
    rc = write(fd, text, n) == (ssize_t) n ? 0 : -1;
    if (close(fd) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        rc = td_prog_put(p, p->scratch, key);
    }
    (void) unlink(p->scratch);
    return rc;
}

/* the rendition's EVENT playlist of the segments published so far */
static int
td_prog_put_playlist(td_progressive_t *p, td_stream_t *st)
{
    int     i, rc;
    char   *text, key[MAM_KEY_MAX_LEN + 1];
    size_t  size, used;

    size = 256 + (size_t) st->n * 48;
    text = malloc(size);
    if (text == NULL) {
        return -1;
    }

    /* the renderer's muxers write version 6 (independent segments);
     * EXT-X-START: a player starts an EVENT playlist at its beginning,
     * not near its end as it would a live one */
    used = (size_t) snprintf(text, size, "#EXTM3U\n#EXT-X-VERSION:6\n"
                             "#EXT-X-TARGETDURATION:%d\n"
                             "#EXT-X-MEDIA-SEQUENCE:0\n"
                             "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                             "#EXT-X-INDEPENDENT-SEGMENTS\n"
                             "#EXT-X-START:TIME-OFFSET=0\n", st->target);
    for (i = 0; i < st->n && used < size; i++) {
        used += (size_t) snprintf(text + used, size - used,
                                  "#EXTINF:%.6f,\nsegment_%03d.ts\n",
                                  st->dur[i], i);
    }

    if (used >= size
        || snprintf(key, sizeof(key), "%s/%s/index.m3u8", p->prefix,
                    st->name) >= (int) sizeof(key))
    {
        free(text);
        return -1;
    }
    rc = td_prog_put_text(p, key, text);
    free(text);
    return rc;
}

/* segment i of the stream, named by the renderer's playlist: published */
static int
td_prog_put_segment(td_progressive_t *p, td_stream_t *st, int i, double dur)
{
    char         path[2600], key[MAM_KEY_MAX_LEN + 1];
    double      *d;
    struct stat  sb;

    if (snprintf(path, sizeof(path), "%s/%s/segment_%03d.ts", p->tmp,
                 st->name, i) >= (int) sizeof(path)
        || snprintf(key, sizeof(key), "%s/%s/segment_%03d.ts", p->prefix,
                    st->name, i) >= (int) sizeof(key))
    {
        return -1;
    }

    /* a plain file, never a link the store would follow */
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        td_log(p->job, "%s: named by the renderer's playlist, but not a "
               "plain file", path);
        return -1;
    }

    if (st->n == st->cap) {
        d = realloc(st->dur, (size_t) (st->cap ? st->cap * 2 : 64)
                             * sizeof(double));
        if (d == NULL) {
            return -1;
        }
        st->dur = d;
        st->cap = st->cap ? st->cap * 2 : 64;
    }

    if (td_prog_put(p, path, key) != 0) {
        return -1;
    }
    p->published = 1;

    st->dur[st->n++] = dur;
    st->bytes += sb.st_size;
    st->seconds += dur;
    if ((int64_t) (sb.st_size * 8.0 / dur) > st->peak) {
        st->peak = (int64_t) (sb.st_size * 8.0 / dur);
    }
    return 0;
}

/* a look at one stream's playlist in the renderer's folder: 0, -1 stop */
static int
td_prog_stream(td_progressive_t *p, td_stream_t *st)
{
    int          i = 0, before = st->n, odd, rc = 0;
    char         path[2400], expect[32], *text, *line, *next;
    double       dur = -1;
    struct stat  sb;

    snprintf(path, sizeof(path), "%s/%s/index.m3u8", p->tmp, st->name);
    if (lstat(path, &sb) != 0) {
        return 0;                       /* no segment closed yet */
    }
    if (sb.st_mtim.tv_sec == st->seen.tv_sec
        && sb.st_mtim.tv_nsec == st->seen.tv_nsec
        && sb.st_size == st->seen_size)
    {
        return 0;                       /* unchanged since the last look */
    }

    text = td_prog_read(path, TD_PROG_PLAYLIST_MAX, &odd);
    if (text == NULL) {
        return odd ? -1 : 0;
    }
    st->seen = sb.st_mtim;
    st->seen_size = sb.st_size;

    for (line = text; line && *line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        line[strcspn(line, "\r")] = '\0';

        if (strncmp(line, "#EXTINF:", 8) == 0) {
            dur = strtod(line + 8, NULL);
            continue;
        }
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }

        /* a name: the i-th must be segment_{i}, after a sane #EXTINF */
        snprintf(expect, sizeof(expect), "segment_%03d.ts", i);
        if (strcmp(line, expect) != 0 || !isfinite(dur) || dur <= 0
            || dur > 600 || i >= TD_PROG_SEGMENTS_MAX)
        {
            td_log(p->job, "%s: unexpected entry %d", path, i);
            rc = -1;
            break;
        }
        if (i >= st->n) {
            rc = td_prog_put_segment(p, st, i, dur);
        }
        i++;
        dur = -1;
    }
    free(text);

    if (st->n > before) {
        /* the muxers' hls_time, or more for a longer segment (rounded,
         * as players compare) */
        for (i = before; i < st->n; i++) {
            if ((int) lrint(st->dur[i]) > st->target) {
                st->target = (int) lrint(st->dur[i]);
            }
        }
        if (st->target < TD_PROG_TARGET) {
            st->target = TD_PROG_TARGET;
        }
        if (td_prog_put_playlist(p, st) != 0) {
            rc = -1;
        }
    }
    return rc;
}

/* the master playlist, as td_master writes it, with the bit rates of the
 * segments published so far and the progressive mark */
static int
td_prog_put_master(td_progressive_t *p)
{
    int      i, nv;
    char     text[4096], key[MAM_KEY_MAX_LEN + 1];
    size_t   used;
    int64_t  apeak = 0, aavg = 0, avg;
    td_stream_t  *st;

    nv = p->audio ? p->nstreams - 1 : p->nstreams;
    if (p->audio) {
        st = &p->s[p->nstreams - 1];
        apeak = st->peak;
        aavg = st->seconds > 0 ? (int64_t) (st->bytes * 8.0 / st->seconds)
                               : 0;
    }

    used = (size_t) snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-VERSION:3\n"
                             "#EXT-X-INDEPENDENT-SEGMENTS\n"
                             TD_PROGRESSIVE_MARK " rendering; the playlists "
                             "grow (EVENT) until the ladder is finished\n");

    if (nv == 0) {
        used += (size_t) snprintf(text + used, sizeof(text) - used,
                                  "#EXT-X-STREAM-INF:BANDWIDTH=%lld,"
                                  "AVERAGE-BANDWIDTH=%lld,"
                                  "CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n",
                                  (long long) apeak, (long long) aavg);
    } else if (p->audio) {
        used += (size_t) snprintf(text + used, sizeof(text) - used,
                                  "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\","
                                  "NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,"
                                  "CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n");
    }

    for (i = 0; i < nv && used < sizeof(text); i++) {
        st = &p->s[i];
        avg = st->seconds > 0 ? (int64_t) (st->bytes * 8.0 / st->seconds) : 0;
        used += (size_t) snprintf(text + used, sizeof(text) - used,
                                  "#EXT-X-STREAM-INF:BANDWIDTH=%lld,"
                                  "AVERAGE-BANDWIDTH=%lld,RESOLUTION=%dx%d,"
                                  "FRAME-RATE=%.3f,CODECS=\"%s%s\"%s\n"
                                  "%s/index.m3u8\n",
                                  (long long) (st->peak + apeak),
                                  (long long) (avg + aavg), st->width,
                                  st->height, p->frame_rate, st->codecs,
                                  p->audio ? ",mp4a.40.2" : "",
                                  p->audio ? ",AUDIO=\"aud\"" : "", st->name);
    }

    if (used >= sizeof(text)
        || snprintf(key, sizeof(key), "%s/index.m3u8", p->prefix)
           >= (int) sizeof(key))
    {
        return -1;
    }
    return td_prog_put_text(p, key, text);
}

void
td_progressive_watch(td_progressive_t *p, json_t *outputs)
{
    int     i, all;
    double  now;

    if (p == NULL || p->stopped || outputs == NULL) {
        return;
    }
    now = td_prog_now();
    if (now - p->last < TD_PROG_EVERY) {
        return;
    }
    p->last = now;

    /* a new pass (the GPU's failed, libx264 renders into an emptied
     * folder): what the first published goes */
    if (p->pass >= 0
        && json_integer_value(json_object_get(outputs, "pass")) != p->pass)
    {
        td_log(p->job, "the renderer started again: the progressive ladder "
               "is withdrawn");
        if (td_progressive_withdraw(p) != 0) {
            td_prog_stop(p, "cannot withdraw the first pass");
            return;
        }
    }
    if (p->pass < 0 && td_prog_shape(p, outputs) != 0) {
        td_prog_stop(p, "the renderer told an unexpected ladder");
        return;
    }

    all = 1;
    for (i = 0; i < p->nstreams; i++) {
        if (td_prog_stream(p, &p->s[i]) != 0) {
            td_prog_stop(p, "a playlist or segment could not be published");
            return;
        }
        all = all && p->s[i].n > 0;
    }

    if (all && !p->master) {
        if (td_prog_put_master(p) != 0) {
            td_prog_stop(p, "the master playlist could not be published");
            return;
        }
        p->master = 1;
        td_log(p->job, "playable: the first segments of %d stream(s) are "
               "published", p->nstreams);
    }
}

int
td_progressive_playable(const td_progressive_t *p)
{
    return p != NULL && p->master;
}

void
td_progressive_finish(td_progressive_t *p)
{
    int   i, k;
    char  path[2600];

    if (p == NULL || p->cf->store.kind != MAM_STORE_S3) {
        return;
    }
    for (i = 0; i < p->nstreams; i++) {
        for (k = 0; k < p->s[i].n; k++) {
            snprintf(path, sizeof(path), "%s/%s/segment_%03d.ts", p->tmp,
                     p->s[i].name, k);
            (void) unlink(path);
        }
    }
}

int
td_progressive_withdraw(td_progressive_t *p)
{
    int   rc;
    char  key[MAM_KEY_MAX_LEN + 1];

    if (p == NULL) {
        return 0;
    }
    (void) unlink(p->scratch);

    if (p->published) {
        /* the master first: no new player finds the ladder */
        snprintf(key, sizeof(key), "%s/index.m3u8", p->prefix);
        if (p->busy) {
            p->busy(p->busy_data, 1);
        }
        rc = mam_store_remove(&p->cf->store, key) != MAM_STORAGE_OK
             || mam_store_remove_folder(&p->cf->store, p->prefix)
                != MAM_STORAGE_OK;
        if (p->busy) {
            p->busy(p->busy_data, 0);
        }
        if (rc) {
            td_log(p->job, "cannot withdraw the progressive ladder at %s: %s",
                   p->prefix, strerror(errno));
            return -1;
        }
        td_log(p->job, "the progressive ladder at %s is withdrawn",
               p->prefix);
    }
    p->published = 0;
    td_prog_reset(p);
    return 0;
}

void
td_progressive_free(td_progressive_t *p)
{
    if (p == NULL) {
        return;
    }
    (void) unlink(p->scratch);
    td_prog_reset(p);
    free(p);
}

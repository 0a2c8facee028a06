/*
 * Playable while transcoding (issue 20): the daemon publishes the ladder
 * as the confined renderer writes it.  The renderer cannot reach the
 * storage (no sockets, its own folder only); the job thread reads what it
 * left in its folder between two beats of the watchdog and publishes each
 * segment its EVENT playlists name, then a playlist of its own naming only
 * what is published, and once every rendition (and the audio) has a
 * segment, the master playlist.  The end of the attempt publishes the
 * finished (VOD) ladder as before: one rename, or an upload that sends
 * every playlist after the files it names.
 */
#ifndef TD_PROGRESSIVE_H
#define TD_PROGRESSIVE_H

#include <jansson.h>

#include "td.h"

/* a line of the progressive master playlist, which the finished one never
 * has: how a new attempt tells a ladder left by an interrupted progressive
 * one (removed) from a finished ladder (kept until replaced) */
#define TD_PROGRESSIVE_MARK  "# progressive:"

typedef struct td_progressive_s  td_progressive_t;

/*
 * Before an attempt renders into tmp (a local folder) the ladder of the
 * folder key prefix.  A finished ladder published there (a forced re-run)
 * stays until the new one replaces it whole: *p is NULL, nothing is
 * published progressively.  Otherwise what an interrupted attempt left
 * there is removed (*withdrawn 1 when there was any) and *p publishes
 * progressively.  0, or -1 with err (storage trouble: transient).
 */
int td_progressive_start(const td_config_t *cf, const char *job,
    const char *tmp, const char *prefix, td_progressive_t **p,
    int *withdrawn, char *err, size_t len);

/* around each transfer to the storage: busy(data, 1) then (data, 0), so
 * the caller can tell the daemon's own work from a stuck renderer */
void td_progressive_on_busy(td_progressive_t *p,
    void (*busy)(void *data, int on), void *data);

/* one step while the renderer runs (render.h's watch): outputs is the
 * ladder's shape as the renderer told it (checked here), or NULL */
void td_progressive_watch(td_progressive_t *p, json_t *outputs);

/* 1 once the master playlist is published (then playable) */
int td_progressive_playable(const td_progressive_t *p);

/*
 * The renderer finished: on S3, the segments already uploaded leave tmp,
 * so the final upload sends only the rest (they are the same bytes)
 */
void td_progressive_finish(td_progressive_t *p);

/* a failed attempt: everything published progressively is removed;
 * 0, or -1 when the storage refused (logged) */
int td_progressive_withdraw(td_progressive_t *p);

void td_progressive_free(td_progressive_t *p);

#endif

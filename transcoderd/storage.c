/*
 * transcoderd's storage, through libmam's store (mam_store.h), the same
 * interface the module uses.  Local storage: the master is read in place,
 * the ladder rendered beside its final folder and renamed into place in one
 * step.  S3: the master is downloaded to work_dir, the ladder rendered there
 * and uploaded (previews bucket, server-side encryption, large files in
 * parts) with the master playlist last, so the edge never finds a master
 * playlist that points at missing files.
 */
#include <stdio.h>
#include <string.h>

#include "td.h"

#define TD_MASTER_PLAYLIST  "index.m3u8"

static int
td_storage_fits(int n, size_t size)
{
    return n >= 0 && (size_t) n < size;
}

int
td_storage_paths(const td_config_t *cf, const mam_job_t *job, char *input,
    size_t input_size, char *prefix, size_t prefix_size, char *tmp,
    size_t tmp_size)
{
    char  folder[MAM_KEY_MAX_LEN + 1];

    if (!td_storage_fits(snprintf(prefix, prefix_size,
                                  MAM_AREA_PREVIEWS "%s/%s", job->asset_id,
                                  job->version_id), prefix_size))
    {
        return -1;
    }

    if (cf->store.kind == MAM_STORE_S3) {
        /* scratch copies; the objects are S3's */
        return td_storage_fits(snprintf(input, input_size, "%s/%s.master",
                                        cf->work_dir, job->job_id),
                               input_size)
               && td_storage_fits(snprintf(tmp, tmp_size, "%s/%s.out",
                                           cf->work_dir, job->job_id),
                                  tmp_size)
               ? 0 : -1;
    }

    /* the rendering folder is a hidden sibling of the final one, on the
     * same file system, so publishing it is one rename */
    if (!td_storage_fits(snprintf(folder, sizeof(folder),
                                  MAM_AREA_PREVIEWS "%s", job->asset_id),
                         sizeof(folder))
        || mam_store_path(&cf->store, job->master_key, input, input_size)
           != 0
        || mam_store_path(&cf->store, folder, tmp, tmp_size) != 0)
    {
        return -1;
    }

    return td_storage_fits(snprintf(tmp + strlen(tmp),
                                    tmp_size - strlen(tmp), "/.%s.tmp",
                                    job->version_id),
                           tmp_size - strlen(tmp))
           ? 0 : -1;
}

int
td_storage_fetch(const td_config_t *cf, const char *key, const char *path,
    char *err, size_t len)
{
    char  why[256];

    if (cf->store.kind != MAM_STORE_S3) {
        return 0;                       /* read in place */
    }

    if (mam_store_download(&cf->store, key, path, why, sizeof(why))
        != MAM_STORAGE_OK)
    {
        snprintf(err, len, "cannot read the master from S3 (%s)", why);
        return -1;
    }
    return 0;
}

int
td_storage_publish(const td_config_t *cf, const char *dir,
    const char *prefix, char *err, size_t len)
{
    err[0] = '\0';

    if (mam_store_publish(&cf->store, dir, prefix, TD_MASTER_PLAYLIST, err,
                          len)
        != MAM_STORAGE_OK)
    {
        if (err[0] == '\0') {
            snprintf(err, len, "cannot publish %s", prefix);
        }
        return -1;
    }
    return 0;
}

void
td_storage_note(const char *message)
{
    td_log(NULL, "%s", message);
}

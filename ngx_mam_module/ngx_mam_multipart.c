/* resumable uploads on S3: S3 multipart (in progress) */

#include "ngx_mam_pg.h"
#include "ngx_mam_storage.h"


void
ngx_mam_multipart_start(ngx_http_request_t *r, json_t *upload,
    const char *content_type)
{
    (void) upload;
    (void) content_type;

    ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
}

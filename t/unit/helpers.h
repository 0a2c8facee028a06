/* What several C unit tests need besides TAP: a small file's text and a
 * loopback listener on a free port. */
#ifndef MAM_UNIT_HELPERS_H
#define MAM_UNIT_HELPERS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* the first 4 KiB of a file as a string (static: valid until the next
 * call), or NULL */
static inline char *
read_file(const char *path)
{
    static char  buf[4096];
    size_t       n;
    FILE        *f = fopen(path, "r");

    if (f == NULL) {
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* a socket listening on 127.0.0.1 at a port the kernel chose (*port), or
 * -1; nothing accepts on it unless the caller does */
static inline int
listen_loopback(int *port)
{
    int                 fd;
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 16) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

#endif

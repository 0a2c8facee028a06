/*
 * Confinement of the renderer child: rlimits, no_new_privs, Landlock and a
 * seccomp filter, applied by the child to itself before it opens the
 * master (sandbox.c says what each one stops).
 */
#ifndef TD_SANDBOX_H
#define TD_SANDBOX_H

#include <stddef.h>

typedef struct {
    const char  *input;         /* the master: read */
    const char  *outdir;        /* the output folder: read and write */
    long         memory_mb;     /* RLIMIT_AS; 0 none */
    long         cpu_seconds;   /* RLIMIT_CPU; 0 none */
    int          gpu;           /* the driver's files are needed too */
} td_sandbox_t;

/* the Landlock ABI version, 0 where there is none */
int td_landlock_abi(void);

/* 0 with what (what is in force), -1 with what (why not) */
int td_sandbox_apply(const td_sandbox_t *sb, char *what, size_t len);

#endif

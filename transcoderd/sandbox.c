/*
 * Confinement of the renderer child (sandbox.h): what a master that takes
 * over libavformat or a decoder could still do.
 *
 *   rlimits     address space (memory_limit), CPU time, file size, open
 *               files, no core dumps
 *   no_new_privs
 *   Landlock    the file system: read the master, read and write the
 *               output folder, nothing else (with a GPU: the driver's
 *               libraries and device files as well)
 *   seccomp     no sockets, no exec, no ptrace, no namespaces, no signals
 *               to other processes, no links or device nodes
 *
 * Landlock needs Linux 5.13 with the LSM enabled; where it is missing the
 * child runs without a file system view of its own (logged at start), and
 * the allow-list, io_open refusal and seccomp still hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER     (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE  (1ULL << 14)
#endif

#define TD_FS_READ   (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define TD_FS_WRITE  (LANDLOCK_ACCESS_FS_WRITE_FILE                            \
                      | LANDLOCK_ACCESS_FS_REMOVE_DIR                          \
                      | LANDLOCK_ACCESS_FS_REMOVE_FILE                         \
                      | LANDLOCK_ACCESS_FS_MAKE_DIR                            \
                      | LANDLOCK_ACCESS_FS_MAKE_REG)
#define TD_FS_FILE   (LANDLOCK_ACCESS_FS_READ_FILE                             \
                      | LANDLOCK_ACCESS_FS_WRITE_FILE                          \
                      | LANDLOCK_ACCESS_FS_EXECUTE)


int
td_landlock_abi(void)
{
    long  abi;

    abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                  LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int) abi;
}

static int
td_rlimit(int which, rlim_t soft, rlim_t hard)
{
    struct rlimit  rl = { soft, hard };

    return setrlimit(which, &rl);
}

static int
td_rlimits(const td_sandbox_t *sb)
{
    if (td_rlimit(RLIMIT_CORE, 0, 0) != 0
        || td_rlimit(RLIMIT_NOFILE, 256, 256) != 0
        || td_rlimit(RLIMIT_FSIZE, (rlim_t) 4 << 30, (rlim_t) 4 << 30) != 0)
    {
        return -1;
    }
    /* SIGXCPU at the soft limit, SIGKILL at the hard one */
    if (sb->cpu_seconds > 0
        && td_rlimit(RLIMIT_CPU, (rlim_t) sb->cpu_seconds,
                     (rlim_t) sb->cpu_seconds + 5) != 0)
    {
        return -1;
    }
    if (sb->memory_mb > 0
        && td_rlimit(RLIMIT_AS, (rlim_t) sb->memory_mb << 20,
                     (rlim_t) sb->memory_mb << 20) != 0)
    {
        return -1;
    }
    return 0;
}

static int
td_landlock_path(int ruleset, const char *path, __u64 access)
{
    int                                 fd, rc;
    struct stat                         st;
    struct landlock_path_beneath_attr   pb;

    fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;    /* a GPU path this host lacks */
    }
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
        access &= TD_FS_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
    }
    pb.allowed_access = access;
    pb.parent_fd = fd;
    rc = (int) syscall(SYS_landlock_add_rule, ruleset,
                       LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
    return rc;
}

#if defined(__SANITIZE_ADDRESS__)
static int
td_landlock_sanitizer_logs(int ruleset, __u64 write)
{
    char        dir[1024], *slash;
    const char *opts, *p;

    opts = getenv("ASAN_OPTIONS");
    p = opts ? strstr(opts, "log_path=") : NULL;
    if (p == NULL) {
        return 0;
    }
    snprintf(dir, sizeof(dir), "%s", p + 9);
    dir[strcspn(dir, ":")] = '\0';
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return 0;
    }
    *slash = '\0';
    return td_landlock_path(ruleset, dir, TD_FS_READ | write);
}
#endif

/* 1 confined, 0 not available here, -1 failed */
static int
td_landlock(const td_sandbox_t *sb)
{
    int                                 ruleset, abi, i, rc = 0;
    __u64                               handled, write;
    struct landlock_ruleset_attr        attr;
    static const char                  *gpu_read[] = {
        "/usr", "/lib", "/lib64", "/etc", "/proc", "/sys",
        "/usr/local/nvidia", NULL
    };

    abi = td_landlock_abi();
    if (abi < 1) {
        return 0;
    }

    handled = TD_FS_READ | TD_FS_WRITE | LANDLOCK_ACCESS_FS_EXECUTE
              | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_SOCK
              | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK
              | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) {
        handled |= LANDLOCK_ACCESS_FS_REFER;
    }
    write = TD_FS_WRITE;
    if (abi >= 3) {
        handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
        write |= LANDLOCK_ACCESS_FS_TRUNCATE;
    }

    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = handled;
    ruleset = (int) syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr),
                            0);
    if (ruleset < 0) {
        return -1;
    }

    rc |= td_landlock_path(ruleset, sb->input, LANDLOCK_ACCESS_FS_READ_FILE);
    rc |= td_landlock_path(ruleset, sb->outdir, TD_FS_READ | write);

    if (sb->gpu) {
        /* the driver loads libraries and opens its devices lazily */
        for (i = 0; gpu_read[i]; i++) {
            rc |= td_landlock_path(ruleset, gpu_read[i],
                                   TD_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE);
        }
        rc |= td_landlock_path(ruleset, "/dev",
                               TD_FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE);
        /* the kernels the daemon compiled: read, never written here */
        if (getenv("CUDA_CACHE_PATH")) {
            rc |= td_landlock_path(ruleset, getenv("CUDA_CACHE_PATH"),
                                   TD_FS_READ);
        }
    }

#if defined(__SANITIZE_ADDRESS__)
    /* sanitizer builds: the reports' folder (ASAN_OPTIONS log_path=DIR/x)
     * stays writable, or a report from the renderer would be lost */
    rc |= td_landlock_sanitizer_logs(ruleset, write);
#endif

    if (rc == 0) {
        rc = (int) syscall(SYS_landlock_restrict_self, ruleset, 0);
    }
    close(ruleset);

    return rc == 0 ? 1 : -1;
}

static int
td_seccomp(void)
{
    int              rc = 0;
    size_t           i;
    pid_t            self = getpid();
    scmp_filter_ctx  ctx;
    static const int denied[] = {
        SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(bind),
        SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4),
        SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
        SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
        SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
        SCMP_SYS(chroot), SCMP_SYS(setns), SCMP_SYS(unshare),
        SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(keyctl),
        SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(init_module),
        SCMP_SYS(finit_module), SCMP_SYS(delete_module),
        SCMP_SYS(kexec_load), SCMP_SYS(reboot), SCMP_SYS(swapon),
        SCMP_SYS(swapoff), SCMP_SYS(userfaultfd), SCMP_SYS(io_uring_setup),
        SCMP_SYS(fanotify_init), SCMP_SYS(open_by_handle_at),
        SCMP_SYS(name_to_handle_at), SCMP_SYS(mknod), SCMP_SYS(mknodat),
        SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(link),
        SCMP_SYS(linkat), SCMP_SYS(tkill), SCMP_SYS(personality),
        SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_getfd),
    };
    static const scmp_datum_t  ns[] = {
        CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
        CLONE_NEWUTS, CLONE_NEWCGROUP
    };

    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) {
        return -1;
    }

    for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    }

    /* signals only to itself (raise, abort) */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
                           SCMP_A0(SCMP_CMP_NE, (scmp_datum_t) self));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
                           SCMP_A0(SCMP_CMP_NE, (scmp_datum_t) self));

    /* threads yes, new namespaces no; clone3's flags sit in memory where
     * seccomp cannot read them: ENOSYS makes glibc fall back to clone */
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
    }
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);

    if (rc == 0) {
        rc = seccomp_load(ctx);
    }
    seccomp_release(ctx);

    return rc == 0 ? 0 : -1;
}

int
td_sandbox_apply(const td_sandbox_t *sb, char *what, size_t len)
{
    int  ll;

    if (td_rlimits(sb) != 0) {
        snprintf(what, len, "setrlimit: %s", strerror(errno));
        return -1;
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(what, len, "no_new_privs: %s", strerror(errno));
        return -1;
    }

    ll = td_landlock(sb);
    if (ll < 0) {
        snprintf(what, len, "landlock: %s", strerror(errno));
        return -1;
    }

    if (td_seccomp() != 0) {
        snprintf(what, len, "seccomp: cannot load the filter");
        return -1;
    }

    snprintf(what, len, "rlimits, no_new_privs, seccomp%s",
             ll ? ", landlock" : " (no landlock on this kernel)");
    return 0;
}

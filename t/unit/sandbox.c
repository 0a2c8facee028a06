/*
 * The renderer's confinement (transcoderd/sandbox.c), applied to this
 * process: what a child that a hostile master took over can and cannot do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox.h"

static void *
thread_main(void *arg)
{
    return arg;
}

static int
opens(const char *path, int flags)
{
    int  fd = open(path, flags | O_CLOEXEC, 0644);

    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return 0;
}

static int
confined(const char *dir)
{
    int            fd, landlock, status;
    char           input[256], beside[256], out[256], file[256], moved[256],
                   sub[256], what[256];
    char          *argv[] = { "/bin/true", NULL };
    void          *p, *r;
    pthread_t      th;
    struct rlimit  rl;
    td_sandbox_t   sb;

    snprintf(input, sizeof(input), "%s/master.mp4", dir);
    snprintf(beside, sizeof(beside), "%s/other-master.mp4", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(file, sizeof(file), "%s/out/segment_000.ts", dir);
    snprintf(moved, sizeof(moved), "%s/out/index.m3u8", dir);
    snprintf(sub, sizeof(sub), "%s/out/360p", dir);
    close(open(input, O_CREAT | O_WRONLY, 0644));
    close(open(beside, O_CREAT | O_WRONLY, 0644));
    mkdir(out, 0755);

    memset(&sb, 0, sizeof(sb));
    sb.input = input;
    sb.outdir = out;
    sb.cpu_seconds = 60;
#if !defined(__SANITIZE_ADDRESS__)
    sb.memory_mb = 512;
#endif

    landlock = td_landlock_abi() > 0;
    ok(td_sandbox_apply(&sb, what, sizeof(what)) == 0, "applied: %s", what);

    /* the file system */
    ok(opens(input, O_RDONLY), "the master can be read");
    ok(opens(file, O_WRONLY | O_CREAT), "a file in the output folder can be "
       "written");
    ok(mkdir(sub, 0755) == 0, "... a folder made there");
    ok(rename(file, moved) == 0, "... a file renamed there");
    if (landlock) {
        ok(!opens(input, O_WRONLY), "the master cannot be written");
        ok(!opens(beside, O_RDONLY) && errno == EACCES,
           "another file beside the master cannot be read");
        ok(!opens("/etc/passwd", O_RDONLY), "/etc/passwd cannot be read");
        ok(!opens("/tmp/mam-sandbox-escape", O_WRONLY | O_CREAT),
           "nothing can be written outside the output folder");
    } else {
        printf("# no Landlock here: the file system checks are skipped\n");
    }

    /* links, sockets, exec, other processes, namespaces */
    ok(symlink("/etc/passwd", moved) != 0 && errno == EPERM,
       "no symbolic link in the output folder");
    ok(link(input, file) != 0, "no hard link to the master");
    ok(socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM,
       "no IPv4 socket");
    ok(socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EPERM,
       "no UNIX socket (the Redis and PostgreSQL sockets stay out of reach)");
    ok(execv(argv[0], argv) != 0 && errno == EPERM, "no exec");
    ok(kill(getppid(), 0) != 0 && errno == EPERM,
       "no signal to another process");
    ok(kill(getpid(), 0) == 0, "... a signal to itself works (abort)");
    ok(unshare(CLONE_NEWUSER) != 0, "no new user namespace");
    ok(pthread_create(&th, NULL, thread_main, input) == 0
       && pthread_join(th, &r) == 0 && r == input, "threads still start");

    /* limits */
    ok(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max == 0, "no core dumps");
    ok(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max == 256,
       "at most 256 open files");
    ok(getrlimit(RLIMIT_CPU, &rl) == 0 && rl.rlim_cur == 60,
       "CPU time limited");
#if !defined(__SANITIZE_ADDRESS__)
    p = malloc((size_t) 768 << 20);
    ok(p == NULL, "more memory than memory_limit is refused");
    free(p);
#else
    (void) p;
#endif

    fd = open(moved, O_RDONLY);
    ok(fd >= 0, "what it wrote can be read back");
    if (fd >= 0) {
        close(fd);
    }

    status = done_testing();
    fflush(stdout);
    return status;
}

/* the confinement is for good: it is applied in a child, and the parent
 * removes what the test made */
int
main(void)
{
    int    status;
    char   dir[] = "/tmp/mam-sandbox-XXXXXX", cmd[64];
    pid_t  pid;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        fflush(stdout);
        _exit(confined(dir));
    }
    status = -1;
    if (pid > 0) {
        waitpid(pid, &status, 0);
    }

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

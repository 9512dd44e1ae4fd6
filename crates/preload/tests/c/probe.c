// probe: starts a program through ONE libc entry point and reports on stdout what the call did.
// The librampart.so tests run it with the library preloaded.
//
// usage: probe [options] <how> <args...>
//   options (applied in order, just before the call):
//     --unsetenv NAME        unsetenv(NAME)
//     --setenv NAME=VALUE    putenv(NAME=VALUE)
//     --envp NAME=VALUE      build an explicit envp holding only these entries (repeatable), for
//                            the calls that take one (execve execvpe execle fexecve execveat
//                            posix_spawn posix_spawnp pidfd_spawn pidfd_spawnp, vfork_execve,
//                            fork_threads); default environ
//     --print-pid            print "pid=<pid>" first
//   how and args:
//     execve|execv|execvp|execvpe|execl|execle|execlp|fexecve|execveat|posix_spawn|posix_spawnp|
//     pidfd_spawn|pidfd_spawnp|vfork_execve  PATH ARGV0 [ARG...]
//     system CMD | popen CMD | popen_write CMD (writes "written through popen\n" to its stdin)
//     system_null                          prints what system(NULL) returns
//     execve_empty_argv PATH               execve with argv = { NULL }
//     execve_null_argv PATH                execve with argv = NULL (Linux treats it as empty)
//     execve_null_envp PATH ARGV0 [ARG...] execve with envp = NULL
//     spawn_repeat N DELAY_MS PATH ARGV0 [ARG...]  N x (posix_spawn, wait, sleep DELAY_MS)
//     threads_mixed T N DIR                T threads x N posix_spawns of touch, alternately
//                                          DIR/allowed-<t>-<i> and DIR/rampart-deny-me-<t>-<i>; each
//                                          result must match its own command
//     fork_threads N PATH ARGV0 [ARG...]   N x (fork, child execve) while 4 threads allocate and
//                                          call posix_spawn("/bin/true") in a loop
// exit status: the started program's own status when it ran; 42 when the call failed with EPERM;
// 43 when it failed otherwise. A failed call prints "<how>: failed errno=<name>".
// Every non-data row of crates/preload/exports.txt needs a case here (the tests call each one); an
// optional row's case is compiled where the libc headers have it (__GLIBC_PREREQ), like its hook.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __GLIBC_PREREQ
#define __GLIBC_PREREQ(major, minor) 0
#endif

extern char **environ;

#define MAX_ENVP 64

static const char *errname(int err) {
    switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOEXEC: return "ENOEXEC";
    case 0: return "0";
    default: return strerror(err);
    }
}

static int fail(const char *how, int err) {
    printf("%s: failed errno=%s\n", how, errname(err));
    fflush(stdout);
    return err == EPERM ? 42 : 43;
}

static int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 99;
}

static int wait_child(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return 98;
    }
    return status_code(status);
}

#if __GLIBC_PREREQ(2, 39)
static int wait_pidfd(int pidfd) {
    siginfo_t info;
    while (waitid(P_PIDFD, pidfd, &info, WEXITED) < 0) {
        if (errno != EINTR) return 98;
    }
    close(pidfd);
    return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}
#endif

// execl/execle/execlp take their argv as varargs: spell the call out for each argument count.
#define CALL_L(fn, path, a, n, ...)                                                            \
    switch (n) {                                                                           \
    case 1: fn(path, a[0], (char *)NULL __VA_ARGS__); break;                               \
    case 2: fn(path, a[0], a[1], (char *)NULL __VA_ARGS__); break;                         \
    case 3: fn(path, a[0], a[1], a[2], (char *)NULL __VA_ARGS__); break;                   \
    case 4: fn(path, a[0], a[1], a[2], a[3], (char *)NULL __VA_ARGS__); break;             \
    case 5: fn(path, a[0], a[1], a[2], a[3], a[4], (char *)NULL __VA_ARGS__); break;       \
    case 6: fn(path, a[0], a[1], a[2], a[3], a[4], a[5], (char *)NULL __VA_ARGS__); break; \
    default: errno = E2BIG;                                                                \
    }

static int exec_one(const char *how, const char *path, char **argv, char **envp) {
    int argc = 0;
    while (argv[argc]) argc++;
    errno = 0;
    if (!strcmp(how, "execve")) execve(path, argv, envp);
    else if (!strcmp(how, "execv")) execv(path, argv);
    else if (!strcmp(how, "execvp")) execvp(path, argv);
    else if (!strcmp(how, "execvpe")) execvpe(path, argv, envp);
    else if (!strcmp(how, "execl")) { CALL_L(execl, path, argv, argc) }
    else if (!strcmp(how, "execlp")) { CALL_L(execlp, path, argv, argc) }
    else if (!strcmp(how, "execle")) { CALL_L(execle, path, argv, argc, , envp) }
    else if (!strcmp(how, "fexecve")) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail(how, errno);
        fexecve(fd, argv, envp);
    }
#if __GLIBC_PREREQ(2, 34)
    else if (!strcmp(how, "execveat")) execveat(AT_FDCWD, path, argv, envp, 0);
#endif
    else {
        fprintf(stderr, "probe: unknown call %s\n", how);
        return 2;
    }
    return fail(how, errno);
}

static volatile int stop_threads;

// Keeps malloc and the library busy in other threads while the main thread forks.
static void *busy_thread(void *arg) {
    (void)arg;
    unsigned seed = (unsigned)(size_t)&arg;
    char *argv[] = {"/bin/true", NULL};
    while (!stop_threads) {
        for (int i = 0; i < 500 && !stop_threads; i++) {
            size_t size = 16 + rand_r(&seed) % 8192;
            char *block = malloc(size);
            if (block) {
                memset(block, i, size);
                free(block);
            }
        }
        pid_t pid;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0) wait_child(pid);
    }
    return NULL;
}

static int spawn_repeat(int rounds, int delay_ms, const char *path, char **argv, char **envp) {
    int ok = 0, eperm = 0, other = 0;
    for (int i = 0; i < rounds; i++) {
        if (i > 0) usleep(delay_ms * 1000);
        pid_t pid;
        int rc = posix_spawn(&pid, path, NULL, NULL, argv, envp);
        if (rc == EPERM) eperm++;
        else if (rc != 0) other++;
        else if (wait_child(pid) == 0) ok++;
        else other++;
    }
    printf("spawn_repeat: ok=%d eperm=%d other=%d\n", ok, eperm, other);
    fflush(stdout);
    if (ok == rounds) return 0;
    if (eperm == rounds) return 42;
    return 43;
}

struct mixed_job {
    int id, rounds;
    const char *dir;
    int mismatches;
};

static void *mixed_thread(void *arg) {
    struct mixed_job *job = arg;
    for (int i = 0; i < job->rounds; i++) {
        int deny = i % 2;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%d-%d", job->dir, deny ? "rampart-deny-me" : "allowed", job->id, i);
        char *argv[] = {"touch", path, NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, "/usr/bin/touch", NULL, NULL, argv, environ);
        int code = rc == 0 ? wait_child(pid) : -1;
        if (deny ? rc != EPERM : (rc != 0 || code != 0)) job->mismatches++;
    }
    return NULL;
}

static int threads_mixed(int threads, int rounds, const char *dir) {
    pthread_t tids[64];
    struct mixed_job jobs[64];
    if (threads > 64) threads = 64;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct mixed_job){t, rounds, dir, 0};
        pthread_create(&tids[t], NULL, mixed_thread, &jobs[t]);
    }
    int mismatches = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        mismatches += jobs[t].mismatches;
    }
    printf("threads_mixed: mismatches=%d\n", mismatches);
    fflush(stdout);
    return mismatches == 0 ? 0 : 43;
}

static int fork_threads(int rounds, const char *path, char **argv, char **envp) {
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, busy_thread, NULL);
    int ok = 0, eperm = 0, other = 0;
    for (int i = 0; i < rounds; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execve(path, argv, envp);
            _exit(errno == EPERM ? 42 : 43);
        }
        if (pid < 0) {
            other++;
            continue;
        }
        int code = wait_child(pid);
        if (code == 0) ok++;
        else if (code == 42) eperm++;
        else other++;
    }
    stop_threads = 1;
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    printf("fork_threads: ok=%d eperm=%d other=%d\n", ok, eperm, other);
    fflush(stdout);
    if (ok == rounds) return 0;
    if (eperm == rounds) return 42;
    return 43;
}

int main(int argc, char **argv) {
    static char *envp_only[MAX_ENVP + 1];
    int envp_count = 0, use_envp = 0;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--unsetenv") && i + 1 < argc) unsetenv(argv[++i]);
        else if (!strcmp(argv[i], "--setenv") && i + 1 < argc) putenv(argv[++i]);
        else if (!strcmp(argv[i], "--envp") && i + 1 < argc && envp_count < MAX_ENVP) {
            envp_only[envp_count++] = argv[++i];
            use_envp = 1;
        } else if (!strcmp(argv[i], "--print-pid")) printf("pid=%d\n", (int)getpid());
        else {
            fprintf(stderr, "probe: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2 && !(argc - i == 1 && !strcmp(argv[i], "system_null"))) {
        fprintf(stderr, "usage: probe [options] <how> <args...>\n");
        return 2;
    }
    fflush(stdout);
    const char *how = argv[i];
    char **args = argv + i + 1;
    char **envp = use_envp ? envp_only : environ;

    if (!strcmp(how, "system")) {
        int rc = system(args[0]);
        if (rc == -1) return fail(how, errno);
        return status_code(rc);
    }
    if (!strcmp(how, "system_null")) {
        printf("system_null: %d\n", system(NULL));
        return 0;
    }
    if (!strcmp(how, "popen_write")) {
        FILE *pipe = popen(args[0], "w");
        if (!pipe) return fail("popen", errno);
        fputs("written through popen\n", pipe);
        int rc = pclose(pipe);
        return rc == -1 ? fail("pclose", errno) : status_code(rc);
    }
    if (!strcmp(how, "popen")) {
        FILE *pipe = popen(args[0], "r");
        if (!pipe) return fail(how, errno);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) fwrite(buf, 1, n, stdout);
        fflush(stdout);
        int rc = pclose(pipe);
        return rc == -1 ? fail("pclose", errno) : status_code(rc);
    }
    if (!strcmp(how, "posix_spawn") || !strcmp(how, "posix_spawnp")) {
        pid_t pid;
        int rc = !strcmp(how, "posix_spawn") ? posix_spawn(&pid, args[0], NULL, NULL, args + 1, envp)
                                              : posix_spawnp(&pid, args[0], NULL, NULL, args + 1, envp);
        if (rc != 0) return fail(how, rc);
        return wait_child(pid);
    }
#if __GLIBC_PREREQ(2, 39)
    if (!strcmp(how, "pidfd_spawn") || !strcmp(how, "pidfd_spawnp")) {
        int pidfd;
        int rc = !strcmp(how, "pidfd_spawn") ? pidfd_spawn(&pidfd, args[0], NULL, NULL, args + 1, envp)
                                              : pidfd_spawnp(&pidfd, args[0], NULL, NULL, args + 1, envp);
        if (rc != 0) return fail(how, rc);
        return wait_pidfd(pidfd);
    }
#endif
    if (!strcmp(how, "vfork_execve")) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(args[0], args + 1, envp);
            _exit(errno == EPERM ? 42 : 43);
        }
        if (pid < 0) return fail(how, errno);
        int code = wait_child(pid);
        if (code == 42) printf("vfork_execve: failed errno=EPERM\n");
        return code;
    }
    if (!strcmp(how, "execve_empty_argv")) {
        char *empty[] = {NULL};
        execve(args[0], empty, envp);
        return fail("execve", errno);
    }
    if (!strcmp(how, "execve_null_argv")) {
        execve(args[0], NULL, envp);
        return fail("execve", errno);
    }
    if (!strcmp(how, "execve_null_envp")) {
        execve(args[0], args + 1, NULL);
        return fail("execve", errno);
    }
    if (!strcmp(how, "spawn_repeat")) {
        if (!args[1] || !args[2] || !args[3]) return 2;
        return spawn_repeat(atoi(args[0]), atoi(args[1]), args[2], args + 3, envp);
    }
    if (!strcmp(how, "threads_mixed")) {
        if (!args[1] || !args[2]) return 2;
        return threads_mixed(atoi(args[0]), atoi(args[1]), args[2]);
    }
    if (!strcmp(how, "fork_threads")) {
        if (!args[1] || !args[2]) return 2;
        return fork_threads(atoi(args[0]), args[1], args + 2, envp);
    }
    return exec_one(how, args[0], args + 1, envp);
}

// spawnloop: timing loops for benchmark/preload.sh. Prints one line per measured series:
//   <label> n=<count> median_us=<m> p99_us=<p>
//
// usage:
//   spawnloop load N VARIANT...    posix_spawn+wait /bin/true N times per variant, the variants
//                                  interleaved (round robin) so machine noise hits all alike.
//                                  VARIANT = none | <path to .so>: the child's LD_PRELOAD (with
//                                  RAMPART_MODE=disabled), this process stays unpreloaded.
//   spawnloop spawn N              posix_spawn+wait /bin/true (run it preloaded or not)
//   spawnloop fork-exec N          fork, child execve /bin/true, wait
//   spawnloop check-parent N PATH ARG...  time posix_spawn of a command the server DENIES: the
//                                  call returns EPERM without starting anything, so its duration
//                                  is one check in this long-lived process (hook to decision)
//   spawnloop check-child N PATH ARG...   fork; the child times execve of a DENIED command and
//                                  reports it through a pipe: one check in a fresh child
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *label, double *samples, int n) {
    qsort(samples, n, sizeof *samples, compare);
    int p99 = (int)(n * 0.99);
    if (p99 >= n) p99 = n - 1;
    printf("%s n=%d median_us=%.1f p99_us=%.1f\n", label, n, samples[n / 2], samples[p99]);
    fflush(stdout);
}

static void wait_for(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

// environ minus LD_PRELOAD/RAMPART_MODE, plus the variant's values.
static char **variant_env(const char *library) {
    int count = 0;
    while (environ[count]) count++;
    char **env = calloc(count + 3, sizeof *env);
    int k = 0;
    for (int i = 0; i < count; i++) {
        if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "RAMPART_MODE=", 13)) env[k++] = environ[i];
    }
    if (strcmp(library, "none")) {
        char *preload = malloc(strlen(library) + 12);
        sprintf(preload, "LD_PRELOAD=%s", library);
        env[k++] = preload;
        env[k++] = "RAMPART_MODE=disabled";
    }
    env[k] = NULL;
    return env;
}

static char *true_argv[] = {"/bin/true", NULL};

static double spawn_true(char **env) {
    pid_t pid;
    double start = now_us();
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, true_argv, env) != 0) {
        perror("posix_spawn /bin/true");
        exit(1);
    }
    wait_for(pid);
    return now_us() - start;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawnloop load|spawn|fork-exec|check-parent|check-child N ...\n");
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    double *samples = calloc(n, sizeof *samples);

    if (!strcmp(mode, "load")) {
        int variants = argc - 3;
        if (variants < 1) return 2;
        char ***envs = calloc(variants, sizeof *envs);
        double **series = calloc(variants, sizeof *series);
        for (int v = 0; v < variants; v++) {
            envs[v] = variant_env(argv[3 + v]);
            series[v] = calloc(n, sizeof **series);
            for (int w = 0; w < 20; w++) spawn_true(envs[v]); // warm the page cache
        }
        for (int i = 0; i < n; i++)
            for (int v = 0; v < variants; v++) series[v][i] = spawn_true(envs[v]);
        for (int v = 0; v < variants; v++) {
            char label[512];
            snprintf(label, sizeof label, "load[%s]", argv[3 + v]);
            report(label, series[v], n);
        }
        return 0;
    }
    if (!strcmp(mode, "spawn")) {
        for (int w = 0; w < 20; w++) spawn_true(environ);
        for (int i = 0; i < n; i++) samples[i] = spawn_true(environ);
        report("spawn", samples, n);
        return 0;
    }
    if (!strcmp(mode, "fork-exec")) {
        for (int i = 0; i < n + 20; i++) {
            double start = now_us();
            pid_t pid = fork();
            if (pid == 0) {
                execve("/bin/true", true_argv, environ);
                _exit(127);
            }
            wait_for(pid);
            if (i >= 20) samples[i - 20] = now_us() - start;
        }
        report("fork-exec", samples, n);
        return 0;
    }
    if (argc < 4) return 2;
    char *path = argv[3];
    char **args = argv + 4;
    if (!strcmp(mode, "check-parent")) {
        for (int i = 0; i < n + 20; i++) {
            pid_t pid;
            double start = now_us();
            int rc = posix_spawn(&pid, path, NULL, NULL, args, environ);
            double took = now_us() - start;
            if (rc == 0) {
                fprintf(stderr, "spawnloop: %s was NOT denied; the figure would be meaningless\n", path);
                return 1;
            }
            if (i >= 20) samples[i - 20] = took;
        }
        report("check-parent", samples, n);
        return 0;
    }
    if (!strcmp(mode, "check-child")) {
        for (int i = 0; i < n + 20; i++) {
            int fds[2];
            if (pipe(fds) != 0) return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                double start = now_us();
                execve(path, args, environ);
                double took = errno == EPERM ? now_us() - start : -1;
                if (write(fds[1], &took, sizeof took) != sizeof took) _exit(1);
                _exit(0);
            }
            close(fds[1]);
            double took = -1;
            if (read(fds[0], &took, sizeof took) != sizeof took) took = -1;
            close(fds[0]);
            wait_for(pid);
            if (took < 0) {
                fprintf(stderr, "spawnloop: %s was NOT denied in the child; the figure would be meaningless\n", path);
                return 1;
            }
            if (i >= 20) samples[i - 20] = took;
        }
        report("check-child", samples, n);
        return 0;
    }
    fprintf(stderr, "spawnloop: unknown mode %s\n", mode);
    return 2;
}

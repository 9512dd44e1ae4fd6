// A shared library whose constructor starts a program before librampart.so's own constructor
// has run: DT_NEEDED libraries are initialised before the LD_PRELOAD object (docs/exec-paths.md EXEC-GLIBC-5).
// EARLY_HOW picks the call (system, popen or posix_spawn), EARLY_COMMAND the sh -c string.
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;
int early_result = -2;
int early_errno = 0;

__attribute__((constructor)) static void start_early(void) {
    const char *how = getenv("EARLY_HOW");
    const char *command = getenv("EARLY_COMMAND");
    if (!how || !command) return;
    errno = 0;
    if (!strcmp(how, "system")) {
        early_result = system(command);
    } else if (!strcmp(how, "popen")) {
        FILE *pipe = popen(command, "r");
        early_result = pipe ? pclose(pipe) : -1;
    } else if (!strcmp(how, "posix_spawn")) {
        char *argv[] = {"sh", "-c", (char *)command, NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
        if (rc != 0) {
            errno = rc;
            early_result = -1;
        } else {
            int status;
            waitpid(pid, &status, 0);
            early_result = status;
        }
    }
    early_errno = errno;
}

/*
 * The variadic exec entry points of librampart.so: execl, execle, execlp.
 *
 * Stable Rust cannot define a C-variadic function, and glibc's execl* call its internal
 * __execve directly (no PLT slot), so without these three hooks every execl* call would be
 * invisible. Each one only flattens its varargs into an argv array ON THE STACK (no malloc: we may
 * be in a vfork child, whose heap is the parent's) exactly as glibc's posix/execl.c does, then hands
 * over to the one Rust guard. Nothing else belongs in this file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>

extern char **environ;

/*
 * The Rust guard entries (src/hooks.rs). Declared hidden: the linker gives a symbol the most
 * restrictive visibility of all its references, so they never appear in the dynamic symbol table.
 */
__attribute__((visibility("hidden"))) int rampart_shim_execve(const char *hook, const char *path,
                                                              char *const argv[], char *const envp[]);
__attribute__((visibility("hidden"))) int rampart_shim_execvp(const char *hook, const char *file,
                                                              char *const argv[]);

#define RAMPART_EXPORT __attribute__((visibility("default")))

/*
 * Counts the arguments after `arg` up to the terminating NULL (exclusive), plus one for `arg`.
 * A macro, not a function: on some ABIs (i686) a va_list is passed by value, so va_arg must run
 * in the function that owns the va_list.
 */
#define COUNT_ARGS(ap, arg, argc)                                                                  \
    do {                                                                                           \
        va_start(ap, arg);                                                                         \
        for (argc = 1; va_arg(ap, const char *) != NULL; argc++) {                                 \
            if (argc == INT_MAX) {                                                                 \
                va_end(ap);                                                                        \
                errno = E2BIG;                                                                     \
                return -1;                                                                         \
            }                                                                                      \
        }                                                                                          \
        va_end(ap);                                                                                \
    } while (0)

/* int execl(const char *path, const char *arg, ... (char *) NULL); */
RAMPART_EXPORT int execl(const char *path, const char *arg, ...) {
    ptrdiff_t argc;
    va_list ap;
    COUNT_ARGS(ap, arg, argc);

    char *argv[argc + 1];
    argv[0] = (char *)arg;
    va_start(ap, arg);
    for (ptrdiff_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);

    return rampart_shim_execve("execl", path, argv, environ);
}

/* int execle(const char *path, const char *arg, ... (char *) NULL, char *const envp[]); */
RAMPART_EXPORT int execle(const char *path, const char *arg, ...) {
    ptrdiff_t argc;
    va_list ap;
    COUNT_ARGS(ap, arg, argc);

    char *argv[argc + 1];
    char **envp;
    argv[0] = (char *)arg;
    va_start(ap, arg);
    for (ptrdiff_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, char *);
    envp = va_arg(ap, char **);
    va_end(ap);

    return rampart_shim_execve("execle", path, argv, envp);
}

/* int execlp(const char *file, const char *arg, ... (char *) NULL); */
RAMPART_EXPORT int execlp(const char *file, const char *arg, ...) {
    ptrdiff_t argc;
    va_list ap;
    COUNT_ARGS(ap, arg, argc);

    char *argv[argc + 1];
    argv[0] = (char *)arg;
    va_start(ap, arg);
    for (ptrdiff_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);

    return rampart_shim_execvp("execlp", file, argv);
}

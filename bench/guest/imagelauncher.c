/* vmct-bench image launcher: runs a workload from a user's image, needing nothing of the image
 * (no shell, no coreutils, no passwd entry, any libc or none). Built static by the harness and
 * placed in the harness's own directory of the image's root filesystem, beside `treehash`.
 *
 *   launcher [--hold | --poweroff] NAME[@SECONDS][+tree]
 *
 * It reads DIR/workloads/NAME/spec (DIR: the directory it was started from), one "key value"
 * per line, a value's newlines and backslashes written as \n and \\: `user UID:GID`, `workdir PATH`, `env KEY=VALUE` (repeated), `arg WORD` (repeated,
 * argv in order, `{seconds}` filled in), `seconds N` (the default for {seconds}), `as-root`.
 * It prints "@@BENCH READY NAME <CLOCK_REALTIME ns>", runs argv directly (PATH from the spec's
 * environment) as that user with exactly that environment plus BENCH_SERVER, BENCH_LISTEN and
 * BENCH_SECONDS, echoes the output as it comes, then prints
 * "@@BENCH RESULT {workload, exit_code, started_ns, ended_ns, output_b64}" (CLOCK_MONOTONIC).
 * With +tree it then waits for the host's go-ahead (SIGUSR1, or a line "tree" on its standard
 * input: a VM's console) so that the hash never runs while the host still reads the trial's
 * figures, and runs DIR/treehash /. --hold: stay (asleep) until the host removes the instance;
 * --poweroff (PID 1 of a VM): power the machine off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 4096
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum mode { EXIT, HOLD, POWEROFF };

static enum mode mode = EXIT;
static volatile sig_atomic_t go;

struct spec {
    unsigned uid, gid;
    int as_root;
    char *workdir;
    char *seconds;
    char *env[MAX_ITEMS];
    int nenv;
    char *args[MAX_ITEMS];
    int nargs;
};

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void puts_(const char *s) { put(s, strlen(s)); }

static long long now_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void finish(int code)
{
    if (mode == POWEROFF) {
        sync();
        int fd = open("/proc/sysrq-trigger", O_WRONLY);
        if (fd >= 0) {
            (void)!write(fd, "o", 1);
            close(fd);
        }
        for (;;)
            sleep(60); /* PID 1 must outlive the power-off request */
    }
    if (mode == HOLD)
        for (;;)
            pause();
    exit(code);
}

static void fail(const char *name, const char *error)
{
    char line[1024];
    snprintf(line, sizeof line, "@@BENCH RESULT {\"workload\":\"%s\",\"error\":\"%s\"}\n", name, error);
    puts_(line);
    finish(2);
}

static char *replace_all(const char *text, const char *field, const char *value)
{
    size_t fl = strlen(field), vl = strlen(value), n = 0;
    for (const char *p = strstr(text, field); p; p = strstr(p + fl, field))
        n++;
    char *out = malloc(strlen(text) + n * vl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text, *hit; ; p = hit + fl) {
        hit = strstr(p, field);
        size_t keep = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, keep);
        o += keep;
        if (!hit)
            break;
        memcpy(o, value, vl);
        o += vl;
    }
    *o = 0;
    return out;
}

/* A spec value as written (\n, \\) turned back into its bytes, in place. */
static char *unescape(char *s)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        if (*in == '\\' && (in[1] == 'n' || in[1] == '\\')) {
            *out++ = in[1] == 'n' ? '\n' : '\\';
            in++;
        } else
            *out++ = *in;
    }
    *out = 0;
    return s;
}

/* 0, or a reason the spec cannot be used. */
static const char *read_spec(const char *path, struct spec *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return "no such workload in this image";
    static char line[65536];
    memset(s, 0, sizeof *s);
    s->workdir = "/";
    s->seconds = "";
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n') {
            fclose(f);
            return "spec line too long or unterminated";
        }
        line[n - 1] = 0;
        char *value = strchr(line, ' ');
        if (value)
            *value++ = 0;
        char *copy = value ? unescape(strdup(value)) : NULL;
        if (!strcmp(line, "as-root"))
            s->as_root = 1;
        else if (!copy)
            return "spec line without a value";
        else if (!strcmp(line, "user")) {
            if (sscanf(copy, "%u:%u", &s->uid, &s->gid) != 2)
                return "spec user is not UID:GID";
        } else if (!strcmp(line, "workdir"))
            s->workdir = copy;
        else if (!strcmp(line, "seconds"))
            s->seconds = copy;
        else if (!strcmp(line, "env") && s->nenv < MAX_ITEMS - 4)
            s->env[s->nenv++] = copy;
        else if (!strcmp(line, "arg") && s->nargs < MAX_ITEMS - 1)
            s->args[s->nargs++] = copy;
        else
            return "spec has an unknown key or too many items";
    }
    fclose(f);
    return s->nargs ? NULL : "spec names no command";
}

static const char *env_value(struct spec *s, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < s->nenv; i++)
        if (!strncmp(s->env[i], key, k) && s->env[i][k] == '=')
            return s->env[i] + k + 1;
    return NULL;
}

static void set_env(struct spec *s, const char *key, const char *value)
{
    size_t k = strlen(key);
    char *entry = malloc(k + strlen(value) + 2);
    sprintf(entry, "%s=%s", key, value);
    for (int i = 0; i < s->nenv; i++)
        if (!strncmp(s->env[i], key, k) && s->env[i][k] == '=') {
            s->env[i] = entry;
            return;
        }
    s->env[s->nenv++] = entry;
}

static void exec_search(struct spec *s)
{
    char **argv = s->args;
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, s->env);
        return;
    }
    const char *path = env_value(s, "PATH");
    char *dirs = strdup(path ? path : DEFAULT_PATH), *save = NULL;
    int error = ENOENT;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", argv[0]);
        execve(full, argv, s->env);
        if (errno != ENOENT && errno != ENOTDIR)
            error = errno;
    }
    errno = error;
}

static void child(struct spec *s, int out)
{
    int nothing[2];
    if (pipe(nothing) == 0) { /* stdin: at its end at once, as /dev/null (an image may have no /dev) */
        close(nothing[1]);
        dup2(nothing[0], 0);
        close(nothing[0]);
    }
    dup2(out, 1);
    dup2(out, 2);
    close(out);
    char problem[512] = "";
    if (chdir(s->workdir) != 0)
        snprintf(problem, sizeof problem, "launcher: cannot enter the working directory %s: %s\n", s->workdir,
                 strerror(errno));
    else if (geteuid() == 0 && !s->as_root &&
             (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0))
        snprintf(problem, sizeof problem, "launcher: cannot become %u:%u: %s\n", s->uid, s->gid, strerror(errno));
    else {
        exec_search(s);
        snprintf(problem, sizeof problem, "launcher: cannot run %s: %s\n", s->args[0], strerror(errno));
    }
    put(problem, strlen(problem));
    _exit(127);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(const unsigned char *data, size_t n)
{
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = data[i] << 16 | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
        quad[0] = B64[v >> 18 & 63];
        quad[1] = B64[v >> 12 & 63];
        quad[2] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        quad[3] = i + 2 < n ? B64[v & 63] : '=';
        put(quad, 4);
    }
}

static void on_go(int sig) { (void)sig; go = 1; }

/* Standard input, where the host may type "tree" (a VM's console): whether it is still open. */
static int read_input(void)
{
    static char seen[64];
    static size_t have;
    char c;
    ssize_t r = read(0, &c, 1);
    if (r <= 0)
        return r < 0 && errno == EINTR; /* at its end (a container's /dev/null): only the signal */
    if (c == '\n' || c == '\r') {
        seen[have] = 0;
        if (!strcmp(seen, "tree"))
            go = 1;
        have = 0;
    } else if (have < sizeof seen - 1)
        seen[have++] = c;
    return 1;
}

static void run_tree(const char *dir)
{
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/treehash", dir);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {probe, "/", NULL}, *envp[] = {NULL};
        execve(probe, argv, envp);
        char line[256];
        snprintf(line, sizeof line, "@@BENCH TREE-FAILED cannot run the tree probe: %s\n", strerror(errno));
        puts_(line);
        _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[128];
        snprintf(line, sizeof line, "@@BENCH TREE-FAILED the tree probe ended with status %d\n", status);
        puts_(line);
    }
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && !strcmp(argv[i], "--hold")) {
        mode = HOLD;
        i++;
    } else if (i < argc && !strcmp(argv[i], "--poweroff")) {
        mode = POWEROFF;
        i++;
    }
    char name[64] = "invalid", seconds[16] = "", dir[4096] = ".";
    int tree = 0;
    if (i < argc) {
        char given[128];
        snprintf(given, sizeof given, "%s", argv[i]);
        char *plus = strchr(given, '+');
        if (plus && !strcmp(plus, "+tree")) {
            tree = 1;
            *plus = 0;
        }
        char *at = strchr(given, '@');
        if (at) {
            *at++ = 0;
            if (*at && strspn(at, "0123456789") == strlen(at) && strlen(at) < sizeof seconds)
                strcpy(seconds, at);
        }
        size_t n = strlen(given);
        if (n > 0 && n < sizeof name && strspn(given, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n)
            strcpy(name, given);
    }
    const char *slash = strrchr(argv[0], '/');
    if (slash && slash != argv[0])
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - argv[0]), argv[0]);
    else if (slash)
        strcpy(dir, "/");

    struct spec s;
    char path[4200];
    snprintf(path, sizeof path, "%s/workloads/%s/spec", dir, name);
    const char *problem = read_spec(path, &s);
    if (problem)
        fail(name, problem);
    if (!*seconds)
        snprintf(seconds, sizeof seconds, "%s", s.seconds);
    for (int a = 0; a < s.nargs; a++)
        s.args[a] = replace_all(s.args[a], "{seconds}", seconds);
    const char *server = getenv("BENCH_SERVER"), *listen_at = getenv("BENCH_LISTEN");
    set_env(&s, "BENCH_SERVER", server ? server : "");
    set_env(&s, "BENCH_LISTEN", listen_at && *listen_at ? listen_at : "0.0.0.0");
    set_env(&s, "BENCH_SECONDS", seconds);
    s.env[s.nenv] = NULL;
    s.args[s.nargs] = NULL;

    struct sigaction action = {0};
    action.sa_handler = on_go;
    sigaction(SIGUSR1, &action, NULL); /* PID 1 of a namespace gets only the signals it handles */
    if (isatty(0)) { /* a VM's console: the host's "tree" line must not echo back into the output */
        struct termios t;
        if (tcgetattr(0, &t) == 0) {
            t.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(0, TCSANOW, &t);
        }
    }

    int out[2];
    if (pipe(out) != 0)
        fail(name, "cannot make a pipe");
    char ready[160];
    snprintf(ready, sizeof ready, "@@BENCH READY %s %lld\n", name, now_ns(CLOCK_REALTIME));
    puts_(ready);
    long long started = now_ns(CLOCK_MONOTONIC);
    pid_t pid = fork();
    if (pid < 0)
        fail(name, "cannot fork");
    if (pid == 0) {
        close(out[0]);
        child(&s, out[1]);
    }
    close(out[1]);
    /* One loop for the workload's output and the go-ahead for the tree probe (SIGUSR1, only
     * ever delivered inside pselect, or "tree" typed on standard input): a server never ends
     * by itself, so the probe may run while it still serves, once the host has its figures. */
    sigset_t blocked, during;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigprocmask(SIG_BLOCK, &blocked, &during);
    sigdelset(&during, SIGUSR1);
    int input = 1, output_open = 1;
    size_t size = 0, capacity = 65536;
    unsigned char *output = malloc(capacity);
    while (output_open || tree) {
        if (tree && go) {
            run_tree(dir);
            tree = 0;
            continue;
        }
        fd_set readable;
        FD_ZERO(&readable);
        if (output_open)
            FD_SET(out[0], &readable);
        if (tree && input)
            FD_SET(0, &readable);
        if (!output_open && !(tree && input)) { /* nothing to read: only the signal can come */
            sigsuspend(&during);
            continue;
        }
        if (pselect(out[0] + 1, &readable, NULL, NULL, NULL, &during) <= 0)
            continue;
        if (tree && input && FD_ISSET(0, &readable))
            input = read_input();
        if (!output_open || !FD_ISSET(out[0], &readable))
            continue;
        unsigned char chunk[65536];
        ssize_t r = read(out[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            put((const char *)chunk, (size_t)r);
            if (size + (size_t)r > capacity) {
                while (size + (size_t)r > capacity)
                    capacity *= 2;
                output = realloc(output, capacity);
                if (!output)
                    fail(name, "output too large");
            }
            memcpy(output + size, chunk, (size_t)r);
            size += (size_t)r;
            continue;
        }
        output_open = 0;
        close(out[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        long long ended = now_ns(CLOCK_MONOTONIC);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (size > 0 && output[size - 1] != '\n')
            put("\n", 1);
        while (size > 0 && output[size - 1] == '\n')
            size--; /* as a shell's $(...) keeps it */
        char head[256];
        snprintf(head, sizeof head, "@@BENCH RESULT {\"workload\":\"%s\",\"exit_code\":%d,\"started_ns\":%lld,"
                 "\"ended_ns\":%lld,\"output_b64\":\"", name, code, started, ended);
        puts_(head);
        put_base64(output, size);
        puts_("\"}\n");
        if (!tree)
            break;
    }
    finish(0);
}

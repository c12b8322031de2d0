/* vmct-bench exposure probe: what this instance can reach of the kernel it runs on.
 *
 * Run as root inside an instance, it prints one fact per line, "key<TAB>value...", and exits 0:
 * the kernel it sees, its namespaces, credentials and confinement, each system call of the
 * architecture tried once, and escape preconditions. It only reads: it writes no file and runs
 * no other program. Each call is made in a forked child with arguments that make it fail
 * harmlessly (every argument -1: a bad descriptor, a bad pointer, invalid flags); the calls that
 * could act even so are never made (exposure_calls.h marks them; bench/guest/exposure.py says why).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

struct call {
    long nr;
    const char *name;
    int probe; /* 0: never made */
};
#include "exposure_calls.h" /* generated: static const struct call CALLS[] */

#define BAD (-1L)

/* What the child saw, written where the parent can read it after the child is gone. */
struct outcome {
    int returned;
    long value;
    int error;
};

static void print_file(const char *key, const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\t')
            buf[i] = i + 1 < n ? ';' : 0;
    printf("%s\t%s\n", key, f ? buf : "unreadable");
}

static void print_status(void)
{
    static const char *const fields[] = {"CapEff", "CapBnd", "CapPrm", "Seccomp", "Seccomp_filters",
                                         "NoNewPrivs", "Uid"};
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
            size_t len = strlen(fields[i]);
            if (strncmp(line, fields[i], len) == 0 && line[len] == ':') {
                char *value = line + len + 1;
                value += strspn(value, " \t");
                value[strcspn(value, "\n")] = 0;
                for (char *c = value; *c; c++)
                    if (*c == '\t')
                        *c = ' ';
                printf("status.%s\t%s\n", fields[i], value);
            }
        }
    }
    fclose(f);
}

/* Credentials and confinement by system call, so that an instance without /proc (a chroot)
 * still tells them; /proc adds the filter count. */
static void print_confinement(void)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capget, &header, data) == 0) {
        printf("cap.effective\t%llx\n", (unsigned long long)data[1].effective << 32 | data[0].effective);
        printf("cap.permitted\t%llx\n", (unsigned long long)data[1].permitted << 32 | data[0].permitted);
    }
    unsigned long long bounding = 0;
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
            bounding |= 1ULL << cap;
    printf("cap.bounding\t%llx\n", bounding);
    printf("seccomp.mode\t%d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    printf("no_new_privs\t%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    /* When this kernel booted, by its own clocks: the same kernel gives the same instant. */
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    printf("kernel.booted_at\t%.3f\n", (real.tv_sec - boot.tv_sec) + (real.tv_nsec - boot.tv_nsec) / 1e9);
}

static void print_namespaces(void)
{
    static const char *const kinds[] = {"mnt", "pid", "net", "uts", "ipc", "user", "cgroup", "time"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char path[64], target[128];
        snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        printf("ns.%s\t%s\n", kinds[i], n > 0 ? target : "none");
    }
}

static void print_lsm(void)
{
    char buf[256] = "";
    int fd = open("/proc/self/attr/current", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        printf("lsm\tnone\n");
        return;
    }
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("lsm\t%s\n", buf);
}

/* One call, in a child: prints "call<TAB>name<TAB>nr<TAB>outcome", the outcome being "errno NAME",
 * "returned", "signal SIGNAME" (SIGSYS: a seccomp filter killed it), "exit N" (it did not return: exit,
 * a vfork) or "not-probed". The harness classifies it (bench/probes/exposure.py). */
static void probe_call(const struct call *c, volatile struct outcome *out)
{
    if (!c->probe) {
        printf("call\t%s\t%ld\tnot-probed\n", c->name, c->nr);
        return;
    }
    fflush(stdout);
    memset((void *)out, 0, sizeof *out);
    pid_t child = fork();
    if (child == 0) {
        pid_t self = getpid();
        alarm(1); /* a call that blocks (pause) ends here: it was reached */
        /* futex answers an unknown operation with ENOSYS: FUTEX_WAIT on a bad address instead. */
        long op = c->nr == SYS_futex ? 0 : BAD;
        long value = syscall(c->nr, BAD, op, BAD, BAD, BAD, BAD);
        int error = errno;
        if (getpid() == self) { /* not the new process of a fork or vfork */
            out->value = value;
            out->error = value == -1 ? error : 0;
            out->returned = 1;
        }
        _exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0) {
        printf("call\t%s\t%ld\tfailed %s\n", c->name, c->nr, strerrorname_np(errno));
    } else if (out->returned && out->error) {
        printf("call\t%s\t%ld\terrno %s\n", c->name, c->nr, strerrorname_np(out->error));
    } else if (out->returned) {
        printf("call\t%s\t%ld\treturned\n", c->name, c->nr);
    } else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        printf("call\t%s\t%ld\tsignal SIG%s\n", c->name, c->nr, abbrev ? abbrev : "?");
    } else {
        printf("call\t%s\t%ld\texit %d\n", c->name, c->nr, WEXITSTATUS(status));
    }
}

/* A container engine's socket this instance can connect to (connecting sends nothing). */
static void print_engine_sockets(void)
{
    static const char *const paths[] = {"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
                                        "/run/podman/podman.sock", "/var/run/crio/crio.sock",
                                        "/var/lib/lxd/unix.socket", "/run/libvirt/libvirt-sock"};
    printf("pre.engine_sockets\t");
    int any = 0;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strncpy(addr.sun_path, paths[i], sizeof addr.sun_path - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
            printf("%s%s", any++ ? " " : "", paths[i]);
        }
        if (fd >= 0)
            close(fd);
    }
    printf("%s\n", any ? "" : "none");
}

static void print_block_devices(void)
{
    DIR *dir = opendir("/dev");
    int any = 0;
    printf("pre.block_devices\t");
    for (struct dirent *e; dir && (e = readdir(dir));) {
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISBLK(st.st_mode))
            printf("%s%s", any++ ? " " : "", e->d_name);
    }
    if (dir)
        closedir(dir);
    printf("%s\n", any ? "" : "none");
}

/* Writable: on a mount that is not read-only, and writable by this process's credentials. */
static int writable(const char *path)
{
    struct statvfs fs;
    return statvfs(path, &fs) == 0 && !(fs.f_flag & ST_RDONLY) && access(path, W_OK) == 0;
}

static void print_release_agents(void)
{
    DIR *dir = opendir("/sys/fs/cgroup");
    int any = 0;
    printf("pre.release_agents\t");
    for (struct dirent *e; dir && (e = readdir(dir));) {
        char path[512];
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s/release_agent", e->d_name);
        if (e->d_name[0] != '.' && writable(path))
            printf("%s%s", any++ ? " " : "", path);
    }
    if (writable("/sys/fs/cgroup/release_agent"))
        printf("%s%s", any++ ? " " : "", "/sys/fs/cgroup/release_agent");
    if (dir)
        closedir(dir);
    printf("%s\n", any ? "" : "none");
}

/* Readable as what it is: a bind-mounted /dev/null over /proc/kcore opens but is not kcore. */
static const char *readable_as(const char *path, int regular)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "no";
    struct stat st;
    int real = fstat(fd, &st) == 0 && (regular ? S_ISREG(st.st_mode) && st.st_size > 0
                                               : S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 1));
    close(fd);
    return real ? "yes" : "no";
}

static void print_processes(void)
{
    DIR *dir = opendir("/proc");
    int count = 0;
    for (struct dirent *e; dir && (e = readdir(dir));)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            count++;
    if (dir)
        closedir(dir);
    printf("processes\t%d\n", count);
}

int main(void)
{
    struct utsname uts;
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (uname(&uts) == 0)
        printf("kernel.release\t%s\nkernel.version\t%s\nkernel.machine\t%s\n", uts.release, uts.version,
               uts.machine);
    print_file("kernel.boot_id", "/proc/sys/kernel/random/boot_id");
    print_namespaces();
    print_confinement();
    print_status();
    print_file("uid_map", "/proc/self/uid_map");
    print_lsm();
    print_processes();
    print_engine_sockets();
    print_block_devices();
    printf("pre.proc_sys_writable\t%s\n", writable("/proc/sys/kernel/core_pattern") ? "yes" : "no");
    printf("pre.sys_writable\t%s\n", writable("/sys/kernel") ? "yes" : "no");
    print_release_agents();
    printf("pre.kcore_readable\t%s\n", readable_as("/proc/kcore", 1));
    printf("pre.dev_mem_readable\t%s\n", readable_as("/dev/mem", 0));
    volatile struct outcome *out = mmap(NULL, sizeof *out, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED) {
        printf("error\tmmap: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof CALLS / sizeof *CALLS; i++)
        probe_call(&CALLS[i], out);
    printf("done\t%zu\n", sizeof CALLS / sizeof *CALLS);
    return 0;
}

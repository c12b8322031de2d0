/* vmct-bench tree probe: one sha256 of the user space an instance sees, to prove that every
 * platform runs the same one. Static, run as root by the image launcher after the trial's figures
 * were read: `treehash ROOT` prints "@@BENCH TREE <sha256> <entries>".
 *
 * The walk is depth first, each directory's entries in byte order of their names. Each entry
 * adds "path\0type\0mode\0uid\0gid\0detail\n" to the hash: type one of d f l p s c b, mode in
 * octal (permission bits with setuid, setgid, sticky), uid and gid in decimal; detail is the
 * sha256 of a file's content or a symlink's target. Left out, with all beneath them: what
 * platforms mount or inject (EXCLUDED: Docker's init layer adds /etc/mtab, /.dockerenv and
 * the mount points of hosts, hostname and resolv.conf) and a directory holding nothing else. bench/images/
 * treehash.py computes the same in Python; a unit test holds them to it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *EXCLUDED[] = {"/proc", "/sys", "/dev", "/run", "/tmp", "/.vmct-bench", "/lost+found",
                                 "/.dockerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab", NULL};

struct sha256 {
    uint32_t h[8];
    uint64_t length;
    unsigned char block[64];
    size_t used;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROTR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha_init(struct sha256 *s)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->length = 0;
    s->used = 0;
}

static void sha_block(struct sha256 *s, const unsigned char *p)
{
    uint32_t w[64], v[8];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int t = 0; t < 64; t++) {
        uint32_t e = v[4], a = v[0];
        uint32_t t1 = v[7] + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + K[t] + w[t];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha_update(struct sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->length += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->length * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha_update(s, &pad, 1);
    while (s->used != 56)
        sha_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, len, 8);
    for (int i = 0; i < 8; i++)
        sprintf(out + 8 * i, "%08x", s->h[i]);
}

static struct sha256 tree;
static long entries;

static int excluded(const char *path)
{
    for (const char **e = EXCLUDED; *e; e++)
        if (!strcmp(path, *e))
            return 1;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int skip_dot(const struct dirent *d) { return strcmp(d->d_name, ".") && strcmp(d->d_name, ".."); }

static int file_hex(int dirfd, const char *name, char out[65])
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct sha256 s;
    sha_init(&s);
    static unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        sha_update(&s, buf, (size_t)n);
    close(fd);
    if (n < 0)
        return -1;
    sha_hex(&s, out);
    return 0;
}

static char type_of(mode_t m)
{
    return S_ISDIR(m) ? 'd' : S_ISREG(m) ? 'f' : S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's'
         : S_ISCHR(m) ? 'c' : 'b';
}

/* Whether anything under the directory is recorded; `path` is its path inside the root. */
static int walk(int dirfd, const char *path);

static int entry(int dirfd, const char *path, const char *name)
{
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", strcmp(path, "/") ? path : "", name);
    if (excluded(full))
        return 0;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        fprintf(stderr, "treehash: cannot stat %s\n", full);
        exit(1);
    }
    char detail[8192] = "";
    if (S_ISDIR(st.st_mode)) {
        int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            fprintf(stderr, "treehash: cannot open %s\n", full);
            exit(1);
        }
        /* Record the directory before its entries, but only when it holds anything: hash a
         * snapshot of the state and restore it if nothing below was recorded. */
        struct sha256 before = tree;
        long count = entries;
        char head[8300];
        int n = snprintf(head, sizeof head, "%s%cd%c%o%c%u%c%u%c\n", full, 0, 0, st.st_mode & 07777, 0,
                         st.st_uid, 0, st.st_gid, 0);
        sha_update(&tree, head, (size_t)n);
        entries++;
        int any = walk(sub, full);
        close(sub);
        if (!any) {
            tree = before;
            entries = count;
        }
        return any;
    }
    if (S_ISREG(st.st_mode)) {
        if (file_hex(dirfd, name, detail) != 0) {
            fprintf(stderr, "treehash: cannot read %s\n", full);
            exit(1);
        }
    } else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dirfd, name, detail, sizeof detail - 1);
        if (n < 0) {
            fprintf(stderr, "treehash: cannot read the link %s\n", full);
            exit(1);
        }
        detail[n] = 0;
    }
    char line[16500];
    int n = snprintf(line, sizeof line, "%s%c%c%c%o%c%u%c%u%c%s\n", full, 0, type_of(st.st_mode), 0,
                     st.st_mode & 07777, 0, st.st_uid, 0, st.st_gid, 0, detail);
    sha_update(&tree, line, (size_t)n);
    entries++;
    return 1;
}

static int walk(int dirfd, const char *path)
{
    struct dirent **names;
    int n = scandirat(dirfd, ".", &names, skip_dot, by_name);
    if (n < 0) {
        fprintf(stderr, "treehash: cannot list %s\n", path);
        exit(1);
    }
    int any = 0;
    for (int i = 0; i < n; i++) {
        any |= entry(dirfd, path, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return any;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "/";
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "treehash: cannot open %s\n", root);
        return 1;
    }
    sha_init(&tree);
    walk(fd, "/");
    char hex[65];
    sha_hex(&tree, hex);
    printf("@@BENCH TREE %s %ld\n", hex, entries);
    return 0;
}

/* A small HTTP server for a FROM scratch image: static, no shell, no files. It answers every
 * request (keep-alive) with "hello, world". Listens on $BENCH_LISTEN (the harness's address;
 * default 0.0.0.0), port $PORT (default 8080). One thread, poll(): one CPU's worth of serving. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS 1024

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n";

struct connection {
    char request[8192];
    size_t have;
};

static struct pollfd fds[MAX_CONNECTIONS + 1];
static struct connection conns[MAX_CONNECTIONS + 1];

/* Answers each complete request in the buffer; -1 when the connection is to be closed. */
static int serve(int fd, struct connection *c)
{
    ssize_t n = read(fd, c->request + c->have, sizeof c->request - c->have);
    if (n <= 0)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    c->have += (size_t)n;
    char *end;
    while ((end = memmem(c->request, c->have, "\r\n\r\n", 4)) != NULL) {
        if (write(fd, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
            return -1;
        size_t used = (size_t)(end + 4 - c->request);
        memmove(c->request, end + 4, c->have - used);
        c->have -= used;
    }
    return c->have == sizeof c->request ? -1 : 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *address = getenv("BENCH_LISTEN"), *port = getenv("PORT");
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port ? atoi(port) : 8080)};
    if (inet_pton(AF_INET, address && *address ? address : "0.0.0.0", &at.sin_addr) != 1) {
        fprintf(stderr, "server: %s is not an IPv4 address\n", address);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&at, sizeof at) != 0 || listen(listener, 512) != 0) {
        perror("server: bind/listen");
        return 1;
    }
    printf("server: listening on %s:%d\n", inet_ntoa(at.sin_addr), ntohs(at.sin_port));
    fflush(stdout);
    int count = 1;
    fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
    for (;;) {
        if (poll(fds, (nfds_t)count, -1) < 0 && errno != EINTR)
            return 1;
        if (fds[0].revents & POLLIN) {
            int fd;
            while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if (count > MAX_CONNECTIONS) {
                    close(fd);
                    continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                fds[count] = (struct pollfd){.fd = fd, .events = POLLIN};
                conns[count].have = 0;
                count++;
            }
        }
        for (int i = count - 1; i >= 1; i--) {
            if (!fds[i].revents)
                continue;
            if ((fds[i].revents & (POLLERR | POLLHUP)) || serve(fds[i].fd, &conns[i]) != 0) {
                close(fds[i].fd);
                count--;
                fds[i] = fds[count];
                conns[i] = conns[count];
            }
        }
    }
}

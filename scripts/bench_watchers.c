/*
 * Load generator for scripts/bench_events.py: holds many /events watchers cheaply, so the
 * figures measure the master and not the client.
 *
 * usage: bench_watchers <port> <api key> <count> <source ip>
 * Connects <count> watchers from <source ip>, prints "connected", then notes the first time
 * (CLOCK_MONOTONIC, ns) each watcher sees `"alias":"bench-<k>"` (k < 4096). When stdin
 * closes it prints "seen <k> <ns>" per sighting and "closed <n>", then exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXK 4096
#define TAIL 40

struct watcher {
    int fd;
    int open;
    char tail[TAIL];
    int tail_len;
    uint8_t seen[MAXK / 8];
};

struct sighting { int k; long long ns; };

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s port key count source-ip\n", argv[0]); return 2; }
    int port = atoi(argv[1]);
    const char *key = argv[2];
    int count = atoi(argv[3]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    char request[256];
    int request_len = snprintf(request, sizeof request,
        "GET /api/v2/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: %s\r\n\r\n", key);
    struct watcher *ws = calloc((size_t)count, sizeof *ws);
    int ep = epoll_create1(0);
    struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, argv[4], &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
            connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 ||
            write(fd, request, (size_t)request_len) != request_len) {
            perror("watcher connect");
            return 1;
        }
        ws[i].fd = fd;
        ws[i].open = 1;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    struct epoll_event sev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    printf("connected\n");
    fflush(stdout);

    size_t cap = 1 << 16, n = 0;
    struct sighting *sightings = malloc(cap * sizeof *sightings);
    static char buf[65536 + TAIL];
    static const char pattern[] = "\"alias\":\"bench-";
    const size_t plen = sizeof pattern - 1;
    int closed = 0, running = 1;
    struct epoll_event events[256];
    while (running) {
        int ready = epoll_wait(ep, events, 256, -1);
        if (ready < 0 && errno == EINTR) continue;
        long long t = now_ns();
        for (int e = 0; e < ready; e++) {
            uint32_t i = events[e].data.u32;
            if (i == UINT32_MAX) { running = 0; continue; }
            struct watcher *w = &ws[i];
            memcpy(buf, w->tail, (size_t)w->tail_len);
            ssize_t got = read(w->fd, buf + w->tail_len, 65536);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN) continue;
                epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
                w->open = 0;
                closed++;
                continue;
            }
            size_t len = (size_t)got + (size_t)w->tail_len;
            char *p = buf;
            while ((p = memmem(p, len - (size_t)(p - buf), pattern, plen)) != NULL) {
                char *d = p + plen;
                int k = 0, digits = 0;
                while (d < buf + len && *d >= '0' && *d <= '9') { k = k * 10 + (*d - '0'); d++; digits++; }
                if (d == buf + len) break; /* number may continue in the next read: keep it in the tail */
                if (digits > 0 && k < MAXK && !(w->seen[k / 8] & (1 << (k % 8)))) {
                    w->seen[k / 8] |= (uint8_t)(1 << (k % 8));
                    if (n == cap) { cap *= 2; sightings = realloc(sightings, cap * sizeof *sightings); }
                    sightings[n].k = k;
                    sightings[n].ns = t;
                    n++;
                }
                p = d;
            }
            size_t keep = len < TAIL ? len : TAIL;
            memcpy(w->tail, buf + len - keep, keep);
            w->tail_len = (int)keep;
        }
    }
    for (size_t i = 0; i < n; i++) printf("seen %d %lld\n", sightings[i].k, sightings[i].ns);
    printf("closed %d\n", closed);
    return 0;
}

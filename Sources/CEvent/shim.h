#ifndef OPENCTRL_CEVENT_SHIM_H
#define OPENCTRL_CEVENT_SHIM_H
/*
 * event2/event-config.h defines _GNU_SOURCE. SwiftGlibc is built without it, so
 * glibc's fd_set would get different field names in the two modules (a flaky
 * clean-build failure). Including these first latches glibc's feature macros
 * the way SwiftGlibc sees them.
 */
#include <features.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <event2/listener.h>

/* GNU-only declarations hidden by the missing _GNU_SOURCE. */
extern int pipe2(int pipefd[2], int flags);
extern int sched_getaffinity(pid_t pid, size_t cpusetsize, void *mask);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
extern char **environ;
extern int pthread_setname_np(unsigned long thread, const char *name);

/* Every descriptor from `from` up is closed in the child (glibc 2.34+). */
static inline int cevent_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
static inline char **cevent_environ(void) { return environ; }

static inline int cevent_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

/* Number of CPUs this process may run on (the affinity mask), or -1. */
static inline int cevent_affinity_cpu_count(void) {
    unsigned long mask[16] = {0};
    /* The glibc wrapper returns 0 on success (the raw syscall would return a size). */
    if (sched_getaffinity(0, sizeof(mask), mask) != 0) return -1;
    int count = 0;
    for (int i = 0; i < 16; i++) count += __builtin_popcountl(mask[i]);
    return count;
}

/* Names a thread (at most 15 bytes), for `top -H` and `ps -T`. Declared here, not through
 * pthread.h: a header this module includes first becomes this module's, and Glibc's
 * PTHREAD_* constants would vanish from files that import only Glibc. (pthread_t is an
 * unsigned long in glibc.) */
static inline void cevent_name_thread(unsigned long thread, const char *name) { pthread_setname_np(thread, name); }

/* Walk a request's header list without exposing TAILQ macros to Swift. */
static inline struct evkeyval *cevent_headers_first(struct evkeyvalq *q) { return q->tqh_first; }
static inline struct evkeyval *cevent_headers_next(struct evkeyval *kv) { return kv->next.tqe_next; }
#endif

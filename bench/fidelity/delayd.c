/* delayd: an HTTP/1.1 keep-alive server on 127.0.0.1 that answers each request
 * exactly D ms after it arrived, for measuring what a client reports as ttfb.
 *
 * usage: delayd [PORT]        (0 or none: a free port; "port N" is printed)
 *
 *   GET /delay/D      200 after D ms (D an integer, 0-60000), a fixed 32-byte body
 *   GET /stats        the server's own lateness since the last reset, at once
 *   GET /stats/reset  the same, then starts counting again
 *
 * One thread, one epoll set, one timerfd armed (CLOCK_MONOTONIC, absolute,
 * nanoseconds) for the earliest due answer of a min-heap; timer slack is set to
 * 1 ns. A request's arrival is the kernel's receive timestamp of its bytes
 * (SO_TIMESTAMPING, software RX), so time the request waited in the socket
 * before delayd read it counts towards "late". Two lateness figures are kept:
 *   read lag: from the kernel's timestamp to delayd reading the request;
 *   late:     from the due time (arrival + D) to the write() of the answer.
 * A client's true server wait is D + late. RLIMIT_NOFILE is raised to its hard
 * limit so that well over 1,100 connections can be held. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 8192       /* bytes of one request's head; more: the connection is closed */
#define OUT_MAX 1024       /* one answer */
#define DELAY_MAX_MS 60000 /* longest D */
#define SAMPLES_MAX (1u << 22)

static const char BODY[] = "{\"ok\":true,\"pad\":\"0123456789\"}\n"; /* 32 bytes */

struct conn {
    int fd;
    unsigned gen; /* bumped when the slot is reused: stale timers are skipped */
    char in[REQ_MAX];
    size_t in_len;
    int waiting;        /* a request is parsed and its answer is due */
    int64_t arrival_ns; /* CLOCK_MONOTONIC of the request's first bytes */
    char out[OUT_MAX];
    size_t out_len, out_off;
};

struct timer {
    int64_t due_ns;
    int fd;
    unsigned gen;
};

struct samples {
    int64_t *v;
    size_t n;
};

static struct conn **conns; /* by fd */
static size_t nconns_max;
static struct timer *heap;
static size_t heap_len, heap_cap;
static struct samples late, lag;
static int ep, tfd;

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void sample_add(struct samples *s, int64_t ns)
{
    if (!s->v)
        s->v = malloc(SAMPLES_MAX * sizeof *s->v);
    if (s->v && s->n < SAMPLES_MAX)
        s->v[s->n++] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* "name n=.. p50=.. p90=.. p99=.. max=.." in microseconds (sorts s). */
static int sample_line(char *buf, size_t size, const char *name, struct samples *s)
{
    size_t n = s->n;
    if (n == 0)
        return snprintf(buf, size, "%s n=0\n", name);
    qsort(s->v, n, sizeof *s->v, cmp_i64);
    return snprintf(buf, size, "%s n=%zu p50=%.1f p90=%.1f p99=%.1f max=%.1f us\n", name, n,
                    (double)s->v[n / 2] / 1e3, (double)s->v[n * 9 / 10] / 1e3,
                    (double)s->v[n * 99 / 100] / 1e3, (double)s->v[n - 1] / 1e3);
}

/* ---- the timer heap ------------------------------------------------------ */

static void heap_swap(size_t a, size_t b)
{
    struct timer t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
}

static void heap_push(struct timer t)
{
    size_t i;
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1024;
        heap = realloc(heap, heap_cap * sizeof *heap);
        if (!heap)
            die("realloc");
    }
    i = heap_len++;
    heap[i] = t;
    while (i > 0 && heap[(i - 1) / 2].due_ns > heap[i].due_ns) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct timer heap_pop(void)
{
    struct timer top = heap[0];
    size_t i = 0;
    heap[0] = heap[--heap_len];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_len && heap[l].due_ns < heap[m].due_ns)
            m = l;
        if (r < heap_len && heap[r].due_ns < heap[m].due_ns)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* Arms the timerfd for the earliest due answer (or disarms it). */
static void arm(void)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (heap_len > 0) {
        its.it_value.tv_sec = heap[0].due_ns / 1000000000;
        its.it_value.tv_nsec = heap[0].due_ns % 1000000000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime");
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->gen++;
    c->waiting = 0;
    c->in_len = c->out_len = c->out_off = 0;
}

static void flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = c->fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        if (w <= 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out_len = c->out_off = 0;
}

static void answer(struct conn *c, int status, const char *body)
{
    int n = snprintf(c->out, sizeof c->out,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Not Found", strlen(body), body);
    c->out_len = n > 0 && (size_t)n < sizeof c->out ? (size_t)n : 0;
    c->out_off = 0;
    flush_out(c);
}

static void answer_stats(struct conn *c, int reset)
{
    char text[600];
    int n = sample_line(text, sizeof text, "late", &late);
    if (n > 0 && (size_t)n < sizeof text)
        sample_line(text + n, sizeof text - (size_t)n, "read_lag", &lag);
    if (reset)
        late.n = lag.n = 0;
    answer(c, 200, text);
}

/* The end of a request head in c->in (after "\r\n\r\n"), 0 when incomplete. */
static size_t head_end(const struct conn *c)
{
    for (size_t i = 3; i < c->in_len; i++)
        if (c->in[i] == '\n' && c->in[i - 1] == '\r' && c->in[i - 2] == '\n' &&
            c->in[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* Handles the complete request at the start of c->in, if there is one and no
 * answer is pending (one request at a time; pipelined ones wait their turn). */
static void take_request(struct conn *c, int64_t read_ns)
{
    size_t end;
    long d = -1;
    char *p;

    if (c->fd < 0 || c->waiting || c->out_len > 0 || !(end = head_end(c)))
        return;
    if (c->arrival_ns == 0)
        c->arrival_ns = read_ns;
    sample_add(&lag, read_ns - c->arrival_ns);
    if (strncmp(c->in, "GET /delay/", 11) == 0) {
        d = strtol(c->in + 11, &p, 10);
        if (p == c->in + 11 || (*p != ' ' && *p != '?') || d < 0 || d > DELAY_MAX_MS)
            d = -1;
    }
    memmove(c->in, c->in + end, c->in_len - end);
    c->in_len -= end;
    if (d >= 0) {
        c->waiting = 1;
        heap_push((struct timer){c->arrival_ns + (int64_t)d * 1000000, c->fd, c->gen});
        arm();
    } else {
        answer(c, 404, "{\"error\":\"not found\"}\n"); /* at once */
    }
    c->arrival_ns = 0;
}

/* The kernel's receive timestamp (CLOCK_REALTIME) from a recvmsg control
 * block, as CLOCK_MONOTONIC; 0 when there is none. */
static int64_t rx_stamp(struct msghdr *msg, int64_t mono_now, int64_t real_now)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPING) {
            struct timespec ts[3];
            memcpy(ts, CMSG_DATA(cm), sizeof ts);
            if (ts[0].tv_sec == 0 && ts[0].tv_nsec == 0)
                return 0;
            return mono_now - (real_now - ((int64_t)ts[0].tv_sec * 1000000000 + ts[0].tv_nsec));
        }
    return 0;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        char ctl[256];
        struct iovec iov = {c->in + c->in_len, sizeof c->in - c->in_len};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
        ssize_t r;
        int64_t mono, real, stamp;

        if (iov.iov_len == 0) {
            conn_close(c);
            return;
        }
        r = recvmsg(c->fd, &msg, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            conn_close(c);
            return;
        }
        mono = clock_ns(CLOCK_MONOTONIC);
        real = clock_ns(CLOCK_REALTIME);
        stamp = rx_stamp(&msg, mono, real);
        if (c->in_len == 0 && c->arrival_ns == 0)
            c->arrival_ns = stamp > 0 && stamp <= mono ? stamp : mono;
        c->in_len += (size_t)r;
        if (strncmp(c->in, "GET /stats", 10) == 0 && head_end(c)) {
            int reset = strncmp(c->in, "GET /stats/reset", 16) == 0;
            size_t end = head_end(c);
            memmove(c->in, c->in + end, c->in_len - end);
            c->in_len -= end;
            c->arrival_ns = 0;
            answer_stats(c, reset);
            continue;
        }
        take_request(c, mono);
    }
}

static void on_timer(void)
{
    uint64_t ticks;
    int64_t now;

    if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        die("read timerfd");
    now = clock_ns(CLOCK_MONOTONIC);
    while (heap_len > 0 && heap[0].due_ns <= now) {
        struct timer t = heap_pop();
        struct conn *c = conns[t.fd];
        if (!c || c->fd != t.fd || c->gen != t.gen || !c->waiting)
            continue; /* closed meanwhile */
        c->waiting = 0;
        answer(c, 200, BODY);
        sample_add(&late, clock_ns(CLOCK_MONOTONIC) - t.due_ns);
        if (c->fd >= 0)
            take_request(c, now); /* a pipelined request waited */
        now = clock_ns(CLOCK_MONOTONIC);
    }
    arm();
}

static void on_accept(int lfd)
{
    for (;;) {
        int one = 1, flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        struct conn *c;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("accept4");
            return;
        }
        if ((size_t)fd >= nconns_max) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags);
        c = conns[fd];
        if (!c && !(c = conns[fd] = calloc(1, sizeof *c)))
            die("calloc");
        c->fd = fd;
        c->waiting = 0;
        c->in_len = c->out_len = c->out_off = 0;
        c->arrival_ns = 0;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    struct epoll_event ev;
    int lfd, one = 1;
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 0;

    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    nconns_max = rl.rlim_cur > 1u << 20 ? 1u << 20 : (size_t)rl.rlim_cur;
    if (!(conns = calloc(nconns_max, sizeof *conns)))
        die("calloc");

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)(port > 0 && port < 65536 ? port : 0));
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
        die("bind/listen");
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0)
        die("epoll/timerfd");
    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = tfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    printf("port %u (fd limit %zu)\n", ntohs(sa.sin_port), nconns_max);
    fflush(stdout);

    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        /* due answers first: their lateness is what is measured */
        for (int i = 0; i < n; i++)
            if (evs[i].data.fd == tfd)
                on_timer();
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct conn *c = fd >= 0 && (size_t)fd < nconns_max ? conns[fd] : NULL;
            if (fd == tfd)
                continue;
            if (fd == lfd) {
                on_accept(lfd);
                continue;
            }
            if (!c || c->fd != fd)
                continue;
            if (evs[i].events & EPOLLOUT) {
                flush_out(c);
                if (c->fd >= 0 && c->out_len == 0) {
                    struct epoll_event in = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &in);
                    take_request(c, clock_ns(CLOCK_MONOTONIC));
                }
            }
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(c);
        }
    }
}

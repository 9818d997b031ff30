/* rawttfb: the reference for twinprobe's ttfb. A plain libcurl multi loop with
 * N journey runs in flight, doing what twinprobe's runner does with the
 * journey of bench/fidelity/run.sh, and nothing else: no templates, no
 * evaluation, no report.
 *
 * usage: rawttfb [--socket] [--batch K] BASE_URL PATH N ROUNDS STEPS
 *
 * In each round, N runs each get a new easy handle (twinprobe makes one per
 * journey run) and make STEPS requests GET BASE_URL PATH one after another: the
 * first on a fresh connection (CURLOPT_FRESH_CONNECT), the next ones on the
 * run's kept-alive connection. A run's next request starts as soon as its last
 * one is collected; a round ends when every run is done. Headers are the ones
 * twinprobe sends (User-Agent, a traceparent of the same length).
 *
 * The loop is twinprobe's (src/runner.c run_round): curl_multi_perform, then
 * every finished transfer collected with curl_multi_info_read, then
 * curl_multi_poll (timeout 100 ms) only when none finished. With --socket it
 * is libcurl's event-driven interface instead: epoll, and
 * curl_multi_socket_action for the sockets that are ready (and for libcurl's
 * timer), so a pass costs what is ready rather than every transfer in flight.
 * With --batch K a pass collects at most K finished transfers (and starts
 * their next requests) before libcurl runs again; the rest wait, queued in
 * libcurl, for the next pass.
 *
 * ttfb is twinprobe's formula (src/http.c read_timings): STARTTRANSFER_TIME_T
 * minus PRETRANSFER_TIME_T, in ms. Prints one line per request:
 *   STEP TTFB_MS REUSED
 * and exits 1 when a transfer failed or a status was not 200. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define URL_MAX 512

#define USER_AGENT "User-Agent: twinprobe/0.1.0 (local)"
#define TRACEPARENT "traceparent: 00-953a72b3ca8809c421527dadf6f41ce3-a7dec8af75c031c1-01"

struct run {
    CURL *easy;
    long step; /* requests made so far */
};

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

static int start(CURLM *multi, struct run *r, const char *url, struct curl_slist *headers)
{
    if (!r->easy) {
        r->easy = curl_easy_init();
        if (!r->easy)
            return -1;
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    }
    curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, r->step == 0 ? 1L : 0L);
    return curl_multi_add_handle(multi, r->easy) == CURLM_OK ? 0 : -1;
}

/* Records a finished transfer; 0, or -1 when it failed. */
static int record(CURL *e, CURLcode result, long step)
{
    curl_off_t pre = 0, st = 0, total = 0;
    long status = 0, nconnects = 0;
    double ttfb;

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconnects);
    /* src/http.c read_timings, for a GET */
    ttfb = st > 0                   ? (st > pre ? (double)(st - pre) / 1000.0 : 0.0)
           : pre > 0 && total > pre ? (double)(total - pre) / 1000.0
                                    : 0.0;
    printf("%ld %.3f %d\n", step, ttfb, nconnects == 0 && pre > 0);
    if (result != CURLE_OK || status != 200) {
        fprintf(stderr, "rawttfb: step %ld: %s, status %ld\n", step, curl_easy_strerror(result),
                status);
        return -1;
    }
    return 0;
}

/* --socket: libcurl's sockets in an epoll set, libcurl's one timer. */
static int ep = -1;
static long long timer_due_us = -1; /* CLOCK_MONOTONIC; -1: none */

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct epoll_event ev = {0};
    (void)e;
    (void)userp;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
    (void)m;
    (void)userp;
    timer_due_us = ms < 0 ? -1 : now_us() + ms * 1000;
    return 0;
}

/* One pass of the --socket loop: waits for ready sockets or the timer (not
 * at all when nothing is in flight to wait for) and hands them to libcurl. */
static int socket_pass(CURLM *multi)
{
    struct epoll_event evs[512];
    long long wait_us = timer_due_us < 0 ? 100000 : timer_due_us - now_us();
    int running, n = epoll_wait(ep, evs, 512, wait_us <= 0 ? 0 : (int)((wait_us + 999) / 1000));

    if (n < 0 && errno != EINTR)
        return -1;
    for (int i = 0; i < n; i++) {
        int mask = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                   ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        if (curl_multi_socket_action(multi, evs[i].data.fd, mask, &running) != CURLM_OK)
            return -1;
    }
    if (timer_due_us >= 0 && now_us() >= timer_due_us &&
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    char url[URL_MAX];
    struct curl_slist *headers = NULL;
    struct run *runs;
    CURLM *multi;
    long n, rounds, steps;
    int failed = 0, socket_mode = 0;
    long batch = 0; /* 0: every finished transfer in each pass */

    for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argc--, argv++) {
        if (strcmp(argv[1], "--socket") == 0) {
            socket_mode = 1;
        } else if (strcmp(argv[1], "--batch") == 0 && argc > 2) {
            batch = strtol(argv[2], NULL, 10);
            argc--;
            argv++;
        } else {
            break;
        }
    }
    if (argc != 6 || batch < 0) {
        fprintf(stderr, "usage: rawttfb [--socket] [--batch K] BASE_URL PATH N ROUNDS STEPS\n");
        return 2;
    }
    n = strtol(argv[3], NULL, 10);
    rounds = strtol(argv[4], NULL, 10);
    steps = strtol(argv[5], NULL, 10);
    if (n < 1 || rounds < 1 || steps < 1 ||
        snprintf(url, sizeof url, "%s%s", argv[1], argv[2]) >= (int)sizeof url) {
        fprintf(stderr, "rawttfb: bad arguments\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    headers = curl_slist_append(headers, USER_AGENT);
    headers = curl_slist_append(headers, TRACEPARENT);
    runs = calloc((size_t)n, sizeof *runs);
    multi = curl_multi_init();
    if (!headers || !runs || !multi)
        return 3;
    if (socket_mode) {
        ep = epoll_create1(0);
        if (ep < 0)
            return 3;
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    }

    for (long round = 0; round < rounds && !failed; round++) {
        long in_flight = 0;
        for (long i = 0; i < n; i++) {
            runs[i].step = 0;
            if (start(multi, &runs[i], url, headers) != 0)
                return 3;
            in_flight++;
        }
        while (in_flight > 0) {
            int running, msgs;
            size_t finished = 0;
            CURLMsg *m;

            if (socket_mode ? socket_pass(multi) != 0
                            : curl_multi_perform(multi, &running) != CURLM_OK)
                return 3;
            while ((batch == 0 || (long)finished < batch) &&
                   (m = curl_multi_info_read(multi, &msgs))) {
                struct run *r = NULL;
                if (m->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
                if (record(m->easy_handle, m->data.result, r->step + 1) != 0)
                    failed = 1;
                curl_multi_remove_handle(multi, r->easy);
                finished++;
                in_flight--;
                if (++r->step < steps) {
                    if (start(multi, r, url, headers) != 0)
                        return 3;
                    in_flight++;
                } else {
                    curl_easy_cleanup(r->easy); /* a new handle per journey run */
                    r->easy = NULL;
                }
            }
            if (!socket_mode && finished == 0 &&
                curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
                return 3;
        }
    }
    for (long i = 0; i < n; i++)
        if (runs[i].easy)
            curl_easy_cleanup(runs[i].easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    free(runs);
    curl_global_cleanup();
    return failed;
}

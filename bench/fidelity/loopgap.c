/* loopgap.so: where an event loop's time goes, for any program that drives
 * libcurl's multi interface (twinprobe, rawttfb), without changing it.
 *
 *   LD_PRELOAD=bench/fidelity/loopgap.so build/twinprobe run ...
 *
 * Wraps curl_multi_perform and curl_multi_poll. At exit it
 * prints to stderr, in ms: the time spent inside perform, inside poll/wait, and
 * in the program's own code between them ("own work": everything from the end
 * of one libcurl call to the start of the next), with the distribution of the
 * own-work gaps that come right before a perform. A response that arrives
 * during such a gap is read, and its first byte stamped (STARTTRANSFER), only
 * when the next perform runs; so these gaps are what can inflate a ttfb. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define GAPS_MAX (1u << 20)

static int64_t t_perform, t_poll, t_own, last_end;
static long n_perform, n_poll;
static int64_t *gaps; /* own work before a perform, ns */
static size_t ngaps;
static int64_t perform_max;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(void)
{
    size_t over = 0;

    if (!n_perform)
        return;
    qsort(gaps, ngaps, sizeof *gaps, cmp);
    for (size_t i = 0; i < ngaps; i++)
        over += gaps[i] > 500000;
    fprintf(stderr,
            "loopgap: perform %ld calls %.1f ms (longest %.3f ms); poll %ld calls %.1f ms; "
            "own work %.1f ms\n",
            n_perform, t_perform / 1e6, perform_max / 1e6, n_poll, t_poll / 1e6, t_own / 1e6);
    if (ngaps)
        fprintf(stderr,
                "loopgap: own work before a perform: p50 %.3f p90 %.3f p99 %.3f max %.3f ms; "
                "%zu of %zu over 0.5 ms\n",
                gaps[ngaps / 2] / 1e6, gaps[ngaps * 9 / 10] / 1e6, gaps[ngaps * 99 / 100] / 1e6,
                gaps[ngaps - 1] / 1e6, over, ngaps);
}

static void *next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "loopgap: no %s\n", name);
        abort();
    }
    return f;
}

/* Time since the last libcurl call ended is the program's own work. */
static int64_t enter(void)
{
    int64_t t = now_ns();
    if (last_end)
        t_own += t - last_end;
    else
        atexit(report);
    return t;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
    static CURLMcode (*real)(CURLM *, int *);
    int64_t t0 = enter(), d;
    CURLMcode rc;

    if (!real)
        *(void **)&real = next("curl_multi_perform");
    if (!gaps)
        gaps = malloc(GAPS_MAX * sizeof *gaps);
    if (gaps && last_end && ngaps < GAPS_MAX)
        gaps[ngaps++] = t0 - last_end;
    rc = real(m, running);
    last_end = now_ns();
    d = last_end - t0;
    t_perform += d;
    perform_max = d > perform_max ? d : perform_max;
    n_perform++;
    return rc;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd fds[], unsigned n, int ms, int *numfds)
{
    static CURLMcode (*real)(CURLM *, struct curl_waitfd[], unsigned, int, int *);
    int64_t t0 = enter();
    CURLMcode rc;

    if (!real)
        *(void **)&real = next("curl_multi_poll");
    rc = real(m, fds, n, ms, numfds);
    last_end = now_ns();
    t_poll += last_end - t0;
    n_poll++;
    return rc;
}

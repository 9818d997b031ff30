/* Publishing benchmark (not a test): builds N synthetic steps entries (the 30
 * fields of docs/redis-schema.md, realistic values), gives them stream IDs and
 * sends them with the publish API (tp_redis_send: pipelined, TP_REDIS_PIPELINE
 * commands per round trip) to a local redis-server.
 *
 * usage: bench_publish PORT N KEY
 * prints: entries=N build_s=S send_s=S entries_per_s=R xlen=L */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/publish.h"
#include "twinprobe/redis_url.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_entry(struct tp_batch *b, const char *key, size_t i)
{
    static const char *const steps[] = {"login-page",  "login",    "search",
                                        "add-to-cart", "checkout", "logout"};
    size_t n;
    const char *const *names = tp_streams_step_fields(&n);
    struct tp_entry *e = tp_batch_add(b, TP_ENTRY_XADD, key);
    char v[32][48];
    double base = 20.0 + (double)(i % 97) * 0.731, cand = base * 1.07 + (double)(i % 13) * 0.01;

    if (!e)
        return -1;
    e->ms = 1764150000000LL + (int64_t)(i / 6) * 1000;
    e->maxlen = 1000000;
    snprintf(v[0], sizeof v[0], "7f0c2a1e-5b7d-4c3e-9a51-%012zu", i / 600);
    snprintf(v[1], sizeof v[1], "%zu", i / 6 % 100 + 1);
    snprintf(v[2], sizeof v[2], "%s", steps[i % 6]);
    snprintf(v[3], sizeof v[3], "stable");
    snprintf(v[4], sizeof v[4], "canary");
    snprintf(v[5], sizeof v[5], "200");
    snprintf(v[6], sizeof v[6], "200");
    snprintf(v[7], sizeof v[7], "1");
    snprintf(v[8], sizeof v[8], "1");
    snprintf(v[9], sizeof v[9], "%.3f", base);
    snprintf(v[10], sizeof v[10], "%.3f", cand);
    snprintf(v[11], sizeof v[11], "%.3f", cand - base);
    snprintf(v[12], sizeof v[12], "%.4f", cand / base);
    for (int k = 0; k < 5; k++) {
        snprintf(v[13 + k], sizeof v[13 + k], "%.3f", base / (k + 2));
        snprintf(v[18 + k], sizeof v[18 + k], "%.3f", cand / (k + 2));
    }
    snprintf(v[23], sizeof v[23], "%d", i % 6 != 0);
    snprintf(v[24], sizeof v[24], "%d", i % 6 != 0);
    snprintf(v[25], sizeof v[25], "%d", i % 6 != 2);
    snprintf(v[26], sizeof v[26], "%d", i % 6 == 2);
    snprintf(v[27], sizeof v[27], "%s", i % 6 == 2 ? "$['results'][0]['price'] type_changed" : "");
    v[28][0] = v[29][0] = '\0';
    for (size_t k = 0; k < n; k++)
        if (tp_entry_add_field(e, names[k], v[k]) != TP_OK)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct tp_redis_conf conf;
    struct tp_redis_opts opts;
    struct tp_batch b = {0};
    struct tp_stream_tops tops = {0};
    struct tp_error err;
    enum tp_outcome *out;
    tp_redis *r = NULL;
    size_t n, stored = 0;
    double t0, t1, t2;
    char url[64];
    long port;

    if (argc != 4 || (port = strtol(argv[1], NULL, 10)) <= 0 ||
        (n = strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: bench_publish PORT N KEY\n");
        return 2;
    }
    memset(&conf, 0, sizeof conf);
    snprintf(url, sizeof url, "redis://127.0.0.1:%ld", port);
    conf.url = url;
    tp_error_clear(&err);
    if (tp_redis_url_parse(url, &conf.addr, &err) != TP_OK)
        return fprintf(stderr, "%s\n", err.text), 1;
    conf.connect_timeout_ms = 2000;
    conf.command_timeout_ms = 60000;
    opts = (struct tp_redis_opts){&conf, NULL, NULL, {NULL, NULL, NULL}};
    out = calloc(n, sizeof *out);
    t0 = now_s();
    for (size_t i = 0; i < n; i++)
        if (add_entry(&b, argv[3], i) != 0)
            return fprintf(stderr, "out of memory\n"), 1;
    if (!out || tp_streams_assign_ids(&b, &tops, &err) != TP_OK)
        return fprintf(stderr, "out of memory\n"), 1;
    t1 = now_s();
    if (tp_redis_connect(&opts, &r, &err) != TP_OK ||
        tp_redis_send(r, b.items, b.count, out, &err) != TP_OK)
        return fprintf(stderr, "bench_publish: %s\n", err.text), 1;
    t2 = now_s();
    for (size_t i = 0; i < n; i++)
        stored += out[i] == TP_OUT_STORED;
    printf("entries=%zu stored=%zu build_s=%.3f send_s=%.3f entries_per_s=%.0f\n", n, stored,
           t1 - t0, t2 - t1, (double)n / (t2 - t1));
    tp_redis_free(r);
    tp_batch_clear(&b);
    tp_stream_tops_clear(&tops);
    tp_redis_url_clear(&conf.addr);
    free(out);
    return stored == n ? 0 : 1;
}

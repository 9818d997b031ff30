/* Unit tests for src/publish.c's bounds: the reply guard over RESP2 bytes (a
 * table, every case fed whole and one byte at a time: within the limits, over
 * them as announced or as found, not RESP2), and the deadlines against fake
 * servers forked here on loopback (one that answers a byte every 100 ms and
 * never finishes, one that announces a 4 GB bulk string): tp_redis_send returns
 * within its batch deadline with every entry still PENDING, and says why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinprobe/publish.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the reply guard ---------------------------------------------------------------- */

struct guard_case {
    const char *bytes;
    size_t len;      /* 0: strlen(bytes) */
    tp_err want;     /* for the whole stream */
    const char *why; /* a word of the message, when want is not TP_OK */
};

static const struct guard_case guard_cases[] = {
    /* what Redis answers twinprobe: several replies in one stream */
    {"+OK\r\n:1\r\n$15\r\n1764150000000-0\r\n-ERR equal or smaller\r\n", 0, TP_OK, NULL},
    {"*1\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$0\r\n\r\n", 0, TP_OK, NULL},
    {"*0\r\n*-1\r\n$-1\r\n+\r\n", 0, TP_OK, NULL},
    {"$5\r\na\r\nbc\r\n", 0, TP_OK, NULL}, /* a bulk string may hold CRLF */
    /* announced over the limits: refused at the header */
    {"$4294967296\r\n", 0, TP_ERR_LIMIT, "bulk string over the 16 MiB limit"},
    {"$16777215\r\n", 0, TP_ERR_LIMIT, "over the 16 MiB limit"}, /* with its CRLF, one over */
    {"$99999999999999999999999999\r\n", 0, TP_ERR_LIMIT, "16 MiB"},
    {"*2147483647\r\n", 0, TP_ERR_LIMIT, "more than 65536 values"},
    {"*65537\r\n", 0, TP_ERR_LIMIT, "more than 65536 values"},
    {"*2\r\n*65535\r\n", 0, TP_ERR_LIMIT, "more than 65536 values"},
    {"*2\r\n$16777000\r\n", 0, TP_OK, NULL}, /* within, so far */
    {"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n", 0, TP_ERR_LIMIT, "nested over 7"},
    /* not RESP2 */
    {"HTTP/1.1 200 OK\r\n", 0, TP_ERR_INVALID, "not a RESP2 reply"},
    {"$abc\r\n", 0, TP_ERR_INVALID, "bad bulk string length"},
    {"$\r\n", 0, TP_ERR_INVALID, "bad bulk string length"},
    {"*-2\r\n", 0, TP_ERR_INVALID, "bad array length"},
    {"$-\r\n", 0, TP_ERR_INVALID, "bad bulk string length"},
    {"$1-2\r\n", 0, TP_ERR_INVALID, "bad bulk string length"},
    {"$1\rx\n", 0, TP_ERR_INVALID, "bad bulk string length"},
    {"+OK\r\n\0", 6, TP_ERR_INVALID, "byte 0x00"},
};

static tp_err feed_all(const struct guard_case *c, size_t step, struct tp_error *err)
{
    struct tp_reply_guard g;
    size_t len = c->len ? c->len : strlen(c->bytes);
    tp_err rc = TP_OK;
    tp_reply_guard_init(&g);
    for (size_t at = 0; rc == TP_OK && at < len; at += step)
        rc = tp_reply_guard_feed(&g, c->bytes + at, len - at < step ? len - at : step, err);
    return rc;
}

static void test_guard_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(guard_cases); i++) {
        const struct guard_case *c = &guard_cases[i];
        size_t steps[] = {1, 3, 1u << 20};
        for (size_t k = 0; k < COUNT_OF(steps); k++) {
            struct tp_error err;
            tp_err rc;
            tp_error_clear(&err);
            rc = feed_all(c, steps[k], &err);
            if (rc != c->want)
                fail_msg("case %zu (%zu-byte pieces): got %d \"%s\", want %d", i, steps[k], (int)rc,
                         err.text, (int)c->want);
            if (c->why && !strstr(err.text, c->why))
                fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.text, c->why);
        }
    }
}

/* A reply that grows past the limit without announcing it: found as it comes. */
static void test_guard_counts_what_arrives(void **state)
{
    struct tp_reply_guard g;
    struct tp_error err;
    char chunk[4096];
    size_t fed = 0;
    tp_err rc = TP_OK;
    (void)state;
    memset(chunk, 'x', sizeof chunk);
    tp_reply_guard_init(&g);
    assert_int_equal(tp_reply_guard_feed(&g, "+", 1, &err), TP_OK); /* a status line, endless */
    while (rc == TP_OK && fed < 2 * TP_REDIS_REPLY_MAX_BYTES) {
        rc = tp_reply_guard_feed(&g, chunk, sizeof chunk, &err);
        fed += sizeof chunk;
    }
    assert_int_equal(rc, TP_ERR_LIMIT);
    assert_true(fed <= TP_REDIS_REPLY_MAX_BYTES + sizeof chunk);
    assert_non_null(strstr(err.text, "over the 16 MiB limit"));

    /* many small values: the count, not the bytes, stops them */
    tp_reply_guard_init(&g);
    assert_int_equal(tp_reply_guard_feed(&g, "*60000\r\n", 8, &err), TP_OK);
    rc = TP_OK;
    for (int i = 0; rc == TP_OK && i < 60000; i++)
        rc = tp_reply_guard_feed(&g, "*2\r\n:1\r\n:1\r\n", 12, &err);
    assert_int_equal(rc, TP_ERR_LIMIT);
    assert_non_null(strstr(err.text, "more than 65536 values"));

    /* the counts start again with each reply (a header and its CRLF count too) */
    tp_reply_guard_init(&g);
    for (int i = 0; i < 3; i++) {
        char head[32];
        int n = snprintf(head, sizeof head, "$%u\r\n", TP_REDIS_REPLY_MAX_BYTES - 32);
        assert_int_equal(tp_reply_guard_feed(&g, head, (size_t)n, &err), TP_OK);
        for (size_t left = TP_REDIS_REPLY_MAX_BYTES - 32; left > 0;) {
            size_t k = left < sizeof chunk ? left : sizeof chunk;
            assert_int_equal(tp_reply_guard_feed(&g, chunk, k, &err), TP_OK);
            left -= k;
        }
        assert_int_equal(tp_reply_guard_feed(&g, "\r\n", 2, &err), TP_OK);
    }
}

/* ---- deadlines against fake servers ------------------------------------------------------ */

enum fake { FAKE_DRIP, FAKE_HUGE_BULK };

/* Forks a server on a loopback port that, for every connection, does what kind
 * says until it is killed. Returns its pid; *port is where it listens. */
static pid_t fake_server(enum fake kind, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;
    assert_true(s >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 8), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(s);
        return pid;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            static char block[65536];
            struct timespec tick = {0, 100 * 1000000L};
            memset(block, 'x', sizeof block);
            if (kind == FAKE_HUGE_BULK && write(c, "$4294967296\r\n", 13) != 13)
                _exit(0);
            for (;;) {
                ssize_t n = kind == FAKE_DRIP ? write(c, "+", 1) : write(c, block, sizeof block);
                if (n <= 0)
                    _exit(0);
                if (kind == FAKE_DRIP)
                    nanosleep(&tick, NULL);
            }
        }
        close(c);
    }
}

static void stop_server(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A probe's redis block for the fake server on port: connect and command
 * timeouts of 300 ms (so a 600 ms batch). Clear conf->addr afterwards. */
static void fake_conf(struct tp_redis_conf *conf, char *url, size_t size, int port)
{
    struct tp_error err;
    signal(SIGPIPE, SIG_IGN);
    memset(conf, 0, sizeof *conf);
    snprintf(url, size, "redis://127.0.0.1:%d", port);
    conf->url = url;
    assert_int_equal(tp_redis_url_parse(url, &conf->addr, &err), TP_OK);
    conf->connect_timeout_ms = 300;
    conf->command_timeout_ms = 300;
}

/* Sends one entry to a fake server with command_timeout_ms 300 (a 600 ms batch):
 * the call must fail, in time, with the entry PENDING and a message with want. */
static void send_to_fake(enum fake kind, const char *want)
{
    struct tp_redis_conf conf;
    struct tp_redis_opts opts;
    struct tp_batch b = {0};
    struct tp_entry *e;
    struct tp_error err;
    enum tp_outcome out[1] = {TP_OUT_PENDING};
    tp_redis *r = NULL;
    char url[64];
    double t0;
    int port;
    pid_t pid = fake_server(kind, &port);

    fake_conf(&conf, url, sizeof url, port);
    opts = (struct tp_redis_opts){&conf, NULL, NULL, {NULL, NULL, NULL}};
    e = tp_batch_add(&b, TP_ENTRY_XADD, "tp:runs:x");
    assert_non_null(e);
    snprintf(e->id, sizeof e->id, "1-0");
    assert_int_equal(tp_entry_add_field(e, "f", "v"), TP_OK);

    assert_int_equal(tp_redis_connect(&opts, &r, &err), TP_OK); /* no AUTH: nothing asked yet */
    t0 = now_s();
    tp_error_clear(&err);
    assert_int_equal(tp_redis_send(r, b.items, b.count, out, &err), TP_ERR_IO);
    if (now_s() - t0 > 0.6 + 0.4)
        fail_msg("tp_redis_send took %.2f s; the batch deadline is 0.6 s", now_s() - t0);
    assert_int_equal(out[0], TP_OUT_PENDING);
    if (!strstr(err.text, want) || !strstr(err.text, url))
        fail_msg("message \"%s\" lacks \"%s\" or the server", err.text, want);

    /* the connection is closed: tops fails at once, in words */
    t0 = now_s();
    {
        struct tp_stream_tops tops = {0};
        const char *keys[1] = {"tp:runs:x"};
        assert_int_equal(tp_redis_tops(r, keys, 1, &tops, &err), TP_ERR_IO);
        tp_stream_tops_clear(&tops);
    }
    assert_true(now_s() - t0 < 0.1);
    tp_redis_free(r);
    tp_batch_clear(&b);
    tp_redis_url_clear(&conf.addr);
    stop_server(pid);
}

static void test_drip_ends_at_the_batch_deadline(void **state)
{
    (void)state;
    send_to_fake(FAKE_DRIP, "no complete reply within 600 ms (the batch deadline)");
}

static void test_huge_bulk_refused_at_its_header(void **state)
{
    (void)state;
    send_to_fake(FAKE_HUGE_BULK, "refused a reply announcing a bulk string over the 16 MiB limit");
}

/* A stalled AUTH ends at the command deadline. */
static void test_stalled_auth_ends_at_the_command_deadline(void **state)
{
    struct tp_redis_conf conf;
    struct tp_redis_opts opts;
    struct tp_error err;
    tp_redis *r = NULL;
    char url[64];
    double t0;
    int port;
    pid_t pid = fake_server(FAKE_DRIP, &port);
    (void)state;

    fake_conf(&conf, url, sizeof url, port);
    opts = (struct tp_redis_opts){&conf, "pw-not-shown", NULL, {NULL, NULL, NULL}};
    t0 = now_s();
    tp_error_clear(&err);
    assert_int_equal(tp_redis_connect(&opts, &r, &err), TP_ERR_IO);
    assert_null(r);
    assert_true(now_s() - t0 < 0.3 + 0.4);
    assert_non_null(
        strstr(err.text, "AUTH: no complete reply within 300 ms (the command deadline)"));
    assert_null(strstr(err.text, "pw-not-shown"));
    tp_redis_url_clear(&conf.addr);
    stop_server(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_table),
        cmocka_unit_test(test_guard_counts_what_arrives),
        cmocka_unit_test(test_drip_ends_at_the_batch_deadline),
        cmocka_unit_test(test_huge_bulk_refused_at_its_header),
        cmocka_unit_test(test_stalled_auth_ends_at_the_command_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/redis_url.c: the addresses a probe file may name, their
 * defaults, and the refusals (password, TLS, queries, bad ports and databases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/redis_url.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
static const struct good_case {
    const char *url;
    enum tp_redis_kind kind;
    const char *user, *host, *path; /* NULL: not set */
    int port, db;
} good_cases[] = {
    {"redis://localhost",            TP_REDIS_TCP,  NULL,    "localhost", NULL, 6379, 0},
    {"redis://[::1]:7000/3",         TP_REDIS_TCP,  NULL,    "::1",       NULL, 7000, 3},
    {"redis://probe@r.example:6380/2", TP_REDIS_TCP, "probe", "r.example", NULL, 6380, 2},
    {"redis://h/",                   TP_REDIS_TCP,  NULL,    "h",         NULL, 6379, 0},
    {"unix:///run/redis.sock?db=4",  TP_REDIS_UNIX, NULL,    NULL, "/run/redis.sock", 0, 4},
    {"unix:///run/redis.sock",       TP_REDIS_UNIX, NULL,    NULL, "/run/redis.sock", 0, 0},
};

static const struct bad_case {
    const char *url;
    const char *says;     /* err.text contains this */
    const char *not_says; /* and not this, or NULL */
} bad_cases[] = {
    {"redis://user:secret@h",  "password",           "secret"},
    {"rediss://h",             "stunnel",            NULL},
    {"http://h",               "redis://",           NULL},
    {"unix://relative",        "absolute",           NULL},
    {"unix:///s?x=1",          "db=N",               NULL},
    {"unix:///s?db=x",         "db=N",               NULL},
    {"redis://h?x=1",          "query",              NULL},
    {"redis://h:0",            "port",               NULL},
    {"redis://h:70000",        "does not parse",     NULL}, /* libcurl refuses it */
    {"redis://h/db",           "database number",    NULL},
    {"redis://h/1/2",          "database number",    NULL},
    {"redis://:6379",          "",                   NULL},
};
/* clang-format on */

static void expect_str(const char *got, const char *want)
{
    if (want)
        assert_string_equal(got, want);
    else
        assert_null(got);
}

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(good_cases); i++) {
        const struct good_case *c = &good_cases[i];
        struct tp_redis_url u;
        struct tp_error e;

        tp_error_clear(&e);
        tp_err rc = tp_redis_url_parse(c->url, &u, &e);
        if (rc != TP_OK)
            print_message("%s: %s\n", c->url, e.text);
        assert_int_equal(rc, TP_OK);
        assert_int_equal(u.kind, c->kind);
        expect_str(u.user, c->user);
        expect_str(u.host, c->host);
        expect_str(u.path, c->path);
        if (c->kind == TP_REDIS_TCP)
            assert_int_equal(u.port, c->port);
        assert_int_equal(u.db, c->db);
        tp_redis_url_clear(&u);
        assert_null(u.host);
    }
}

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct tp_redis_url u;
        struct tp_error e;

        tp_error_clear(&e);
        tp_err rc = tp_redis_url_parse(c->url, &u, &e);
        if (rc != TP_ERR_INVALID || !strstr(e.text, c->says))
            print_message("%s: %s\n", c->url, e.text);
        assert_int_equal(rc, TP_ERR_INVALID);
        assert_non_null(strstr(e.text, c->says));
        if (c->not_says)
            assert_null(strstr(e.text, c->not_says));
        /* nothing is left to free */
        assert_null(u.user);
        assert_null(u.host);
        assert_null(u.path);
    }
    tp_redis_url_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

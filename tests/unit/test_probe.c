/* Probe files: valid files load with defaults and resolved paths; each problem is
 * reported at its JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/probe.h"

static struct tp_probe *load(const char *text, struct tp_diags *d)
{
    return tp_probe_load("probes/p.json", text, strlen(text), d);
}

/* A probe that must load without a problem (any is printed); free with tp_probe_free. */
static struct tp_probe *load_ok(const char *text)
{
    struct tp_diags d = {0};
    struct tp_probe *p = load(text, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("unexpected: %s: %s\n", d.items[i].path, d.items[i].text);
    tp_diags_clear(&d);
    assert_non_null(p);
    return p;
}

#define TARGETS "\"targets\": [{\"name\": \"stable\", \"base_url\": \"http://a\"}," \
                "{\"name\": \"canary\", \"base_url\": \"https://b\", \"headers\": {\"X-C\": \"1\"}}]"

static void test_valid_probe(void **state)
{
    (void)state;
    struct tp_probe *p =
        load_ok("{\"location\": \"eu\", " TARGETS ", \"baseline\": \"canary\", \"journeys\": "
                "[\"../j/a.json\", \"/abs/b.json\"], \"rounds\": 7, \"pairing\": \"alternate\","
                "\"redis\": {\"url\": \"redis://probe@r.example:6380/2\", \"password_env\": \"RPW\"},"
                "\"spool_dir\": \"spool\", \"compare\": {\"margin_pct\": 20}}");
    assert_string_equal(p->location, "eu");
    assert_int_equal(p->ntargets, 2);
    assert_int_equal(p->baseline, 1);
    assert_int_equal(p->targets[1].nheaders, 1);
    assert_string_equal(p->journeys[0], "probes/../j/a.json");
    assert_string_equal(p->journeys[1], "/abs/b.json");
    assert_int_equal(p->rounds, 7);
    assert_int_equal(p->pairing, TP_PAIR_ALTERNATE);
    assert_string_equal(p->redis.addr.host, "r.example");
    assert_string_equal(p->redis.addr.user, "probe");
    assert_int_equal(p->redis.addr.port, 6380);
    assert_int_equal(p->redis.addr.db, 2);
    assert_string_equal(p->redis.prefix, "twinprobe");
    assert_string_equal(p->spool_dir, "probes/spool");
    assert_true(p->margin_pct == 20 && p->margin_ms == 5 && p->pass_score == 95);
    tp_probe_free(p);
}

static void test_sentinel_probe(void **state)
{
    (void)state;
    struct tp_probe *p =
        load_ok("{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], \"redis\": "
                "{\"sentinels\": [\"s1.example:26379\", \"[fd00::7]:26380\"], "
                "\"master\": \"mm\", \"user\": \"probe\", \"db\": 3}}");
    assert_int_equal(p->redis.nsentinels, 2);
    assert_string_equal(p->redis.sentinels[0].host, "s1.example");
    assert_int_equal(p->redis.sentinels[0].port, 26379);
    assert_string_equal(p->redis.sentinels[1].host, "fd00::7");
    assert_int_equal(p->redis.sentinels[1].port, 26380);
    assert_string_equal(p->redis.master, "mm");
    assert_int_equal(p->redis.min_replicas, 1);
    assert_string_equal(p->redis.addr.user, "probe");
    assert_int_equal(p->redis.addr.db, 3);
    assert_string_equal(p->redis.url, "sentinel://s1.example:26379,[fd00::7]:26380/mm");
    tp_probe_free(p);
}

struct bad_case {
    const char *label, *json, *path, *text;
};

static const struct bad_case bad_cases[] = {
    {"baseline names no target",
     "{\"location\": \"eu\", " TARGETS ", \"baseline\": \"stabel\", \"journeys\": [\"a\"]}",
     "baseline", "baseline \"stabel\" names no target (did you mean \"stable\"?)"},
    {"no targets", "{\"location\": \"eu\", \"targets\": [], \"journeys\": [\"a\"]}", "targets",
     "at least one target"},
    {"bad base_url",
     "{\"location\": \"eu\", \"targets\": [{\"name\": \"s\", \"base_url\": \"ftp://x\"}], "
     "\"journeys\": [\"a\"]}",
     "targets[0].base_url", "http:// or https://"},
    {"redis url", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], \"redis\": "
                  "{\"url\": \"http://x\"}}",
     "redis.url", "Redis URL must be"},
    {"redis password in url", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                              "\"redis\": {\"url\": \"redis://u:hunter2@x\"}}",
     "redis.url", "password in the Redis URL is refused"},
    {"redis password key", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                           "\"redis\": {\"url\": \"redis://x\", \"password\": \"p\"}}",
     "redis.password", "refused"},
    {"redis db", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                 "\"redis\": {\"url\": \"redis://x/abc\"}}",
     "redis.url", "database number"},
    {"unknown key", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], \"round\": 3}",
     "", "unknown key \"round\" in probe file (did you mean \"rounds\"?)"},
    {"rounds range", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], \"rounds\": 0}",
     "rounds", "out of range"},
    {"duplicate target",
     "{\"location\": \"eu\", \"targets\": [{\"name\": \"s\", \"base_url\": \"http://a\"},"
     "{\"name\": \"s\", \"base_url\": \"http://b\"}], \"journeys\": [\"a\"]}",
     "targets[1]", "duplicate target name"},
    {"connect_to", "{\"location\": \"eu\", \"targets\": [{\"name\": \"s\", \"base_url\": "
                   "\"http://a\", \"connect_to\": \"a:80\"}], \"journeys\": [\"a\"]}",
     "targets[0].connect_to", "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT"},
    {"pairing", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], \"pairing\": \"x\"}",
     "pairing", "\"simultaneous\" or \"alternate\""},
    {"missing location", "{" TARGETS ", \"journeys\": [\"a\"]}", "",
     "missing required key \"location\""},
    {"url and sentinels", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                          "\"redis\": {\"url\": \"redis://x\", \"sentinels\": [\"a:1\"], "
                          "\"master\": \"m\"}}",
     "redis", "exactly one of \"url\" (one server) and \"sentinels\" (Redis Sentinel); both"},
    {"neither url nor sentinels", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                                  "\"redis\": {\"prefix\": \"p\"}}",
     "redis", "neither is named"},
    {"sentinels without master", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                                 "\"redis\": {\"sentinels\": [\"a:1\"]}}",
     "redis.master", "name the master"},
    {"sentinel without port", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                              "\"redis\": {\"sentinels\": [\"a:1\", \"b\"], \"master\": \"m\"}}",
     "redis.sentinels[1]", "host:port or [IPv6]:port (port 1 to 65535), got \"b\""},
    {"sentinel bare IPv6", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                           "\"redis\": {\"sentinels\": [\"::1:26379\"], \"master\": \"m\"}}",
     "redis.sentinels[0]", "host:port or [IPv6]:port"},
    {"no sentinels", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                     "\"redis\": {\"sentinels\": [], \"master\": \"m\"}}",
     "redis.sentinels", "name 1 to 64 sentinels"},
    {"user with url", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                      "\"redis\": {\"url\": \"redis://x\", \"user\": \"u\"}}",
     "redis.user", "the URL carries the user and db"},
    {"min_replicas range", "{\"location\": \"eu\", " TARGETS ", \"journeys\": [\"a\"], "
                           "\"redis\": {\"sentinels\": [\"a:1\"], \"master\": \"m\", "
                           "\"min_replicas\": 101}}",
     "redis.min_replicas", "out of range"},
};

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    struct tp_diags d = {0};
    int found = 0;
    assert_null(load(c->json, &d));
    for (size_t i = 0; i < d.count; i++)
        if (strcmp(d.items[i].path, c->path) == 0 && strstr(d.items[i].text, c->text))
            found = 1;
    if (!found)
        for (size_t i = 0; i < d.count; i++)
            print_message("%s: got %s: %s\n", c->label, d.items[i].path, d.items[i].text);
    assert_true(found);
    tp_diags_clear(&d);
}

static void test_relative_paths(void **state)
{
    (void)state;
    char *s = tp_path_relative_to("a/b/p.json", "../j.json");
    assert_string_equal(s, "a/b/../j.json");
    free(s);
    s = tp_path_relative_to("p.json", "j.json");
    assert_string_equal(s, "j.json");
    free(s);
    s = tp_path_relative_to("/etc/p.json", "/x/j.json");
    assert_string_equal(s, "/x/j.json");
    free(s);
}

int main(void)
{
    enum { NBAD = sizeof bad_cases / sizeof bad_cases[0] };
    struct CMUnitTest tests[NBAD + 3];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_valid_probe);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sentinel_probe);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_relative_paths);
    for (size_t i = 0; i < NBAD; i++)
        tests[n++] = (struct CMUnitTest){bad_cases[i].label, test_bad_case, NULL, NULL,
                                         (void *)&bad_cases[i]};
    return _cmocka_run_group_tests("probe", tests, n, NULL, NULL);
}

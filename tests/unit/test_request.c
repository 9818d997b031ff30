/* Unit tests for src/request.c: a journey loaded from JSON, a fake template
 * environment, and the request each step builds (URL, query, headers, bodies,
 * settings, refusals). No sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinprobe/request.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fake environment ---------------------------------------------------- */

/* name, value, ..., NULL: journey variables and captures as the runner holds them */
static const char *const vars[] = {
    "sku",   "A-100",  "user",        "ann",    "id",
    "c-42",  "tricky", "a&b=c d/é?#", "quoted", "say \"hi\"\\ back\nslash\ttab\x01",
    "token", "s3cr3t", NULL,
};
static const char *const envs[] = {"SHOP_PASSWORD", "pw word", NULL};

static const char *find_pair(const char *const *pairs, const char *name)
{
    for (size_t i = 0; pairs[i]; i += 2)
        if (strcmp(pairs[i], name) == 0)
            return pairs[i + 1];
    return NULL;
}

static const char *fake_var(void *ctx, const char *name)
{
    (void)ctx;
    return find_pair(vars, name);
}

static const char *fake_env(void *ctx, const char *name)
{
    (void)ctx;
    return find_pair(envs, name);
}

static uint64_t fake_random(void *ctx)
{
    (void)ctx;
    return UINT64_C(0x0123456789abcdef);
}

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return INT64_C(1700000000000);
}

static const struct tp_template_env env = {fake_var, fake_env, fake_random, fake_now, NULL};

/* ---- fixture ------------------------------------------------------------- */

/* A journey whose variables define every name the steps use; "id" and "tricky"
 * stand for captures. The loader wants captures declared, so step "cap" does. */
static const char prelude[] =
    "{\"name\": \"j\", \"variables\": {\"sku\": \"A-100\", \"user\": \"ann\", \"id\": \"x\","
    " \"tricky\": \"x\", \"quoted\": \"x\", \"token\": \"x\"},";

struct built {
    struct tp_journey *journey;
    struct tp_http_request req;
    struct tp_error err;
    enum tp_failure cls;
    tp_err rc;
    tp_secrets *secrets; /* what the build added: basic auth values */
};

static struct tp_target default_target = {
    .name = "stable",
    .base_url = "http://shop.test:8080/",
};

/* Loads journey text (which must load) and builds the request of step `index`. */
static void build_step(struct built *b, const char *journey, const struct tp_target *target,
                       const char *cookie, size_t index)
{
    struct tp_diags d = {0};
    struct tp_request_ctx ctx;

    memset(b, 0, sizeof *b);
    b->secrets = tp_secrets_create();
    assert_non_null(b->secrets);
    b->journey = tp_journey_load("dir/j.json", journey, strlen(journey), &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("journey: %s: %s\n", d.items[i].path, d.items[i].text);
    assert_non_null(b->journey);
    assert_true(index < b->journey->nsteps);
    tp_diags_clear(&d);
    ctx = (struct tp_request_ctx){b->journey,
                                  target ? target : &default_target,
                                  &env,
                                  "twinprobe/0.1.0 (test-1)",
                                  "0af7651916cd43dd8448eb211c80319c",
                                  "b7ad6b7169203331",
                                  cookie,
                                  NULL, /* base_url parsed per request */
                                  NULL, /* no origin: every URL through the parser */
                                  b->secrets};
    tp_error_clear(&b->err);
    b->rc = tp_request_build(&ctx, &b->journey->steps[index], &b->req, &b->cls, &b->err);
    assert_int_equal(b->cls == TP_FAIL_NONE, b->rc == TP_OK);

    /* The runner's way, base_url parsed once beforehand, builds the same URL. */
    ctx.base = curl_url();
    assert_non_null(ctx.base);
    if (curl_url_set(ctx.base, CURLUPART_URL, ctx.target->base_url, 0) == CURLUE_OK) {
        struct tp_http_request again = {0};
        struct tp_error err2;
        enum tp_failure cls2;
        tp_error_clear(&err2);
        assert_int_equal(tp_request_build(&ctx, &b->journey->steps[index], &again, &cls2, &err2),
                         b->rc);
        assert_int_equal(cls2, b->cls);
        if (b->rc == TP_OK)
            assert_string_equal(again.url, b->req.url);
        else
            assert_string_equal(err2.text, b->err.text);
        tp_http_request_clear(&again);
        /* and with the origin: a plain absolute path joined without the parser */
        ctx.origin = tp_request_origin(ctx.target->base_url);
        tp_error_clear(&err2);
        assert_int_equal(tp_request_build(&ctx, &b->journey->steps[index], &again, &cls2, &err2),
                         b->rc);
        if (b->rc == TP_OK)
            assert_string_equal(again.url, b->req.url);
        tp_http_request_clear(&again);
        free((char *)ctx.origin);
    }
    curl_url_cleanup(ctx.base);
}

static void build_with(struct built *b, const char *journey, const struct tp_target *target,
                       const char *cookie)
{
    build_step(b, journey, target, cookie, 0);
}

static void build(struct built *b, const char *journey)
{
    build_with(b, journey, NULL, NULL);
}

static void built_free(struct built *b)
{
    tp_http_request_clear(&b->req);
    tp_journey_free(b->journey);
    tp_secrets_free(b->secrets);
}

/* Paths joined to the origin without the parser give libcurl's URL; those it
 * would change (dot segments, bytes to encode, "//", a fragment) go through it. */
static void test_plain_paths_as_the_parser(void **state)
{
    static const char *const paths[] = {
        "/", "/login", "/api/search.json", "/a/b/c?x=1&y=2", "/a?q=/b?c", "/.well-known/x",
        "/a/./b", "/a/../b", "/a/..", "/a/.", "/..", "/a/.b/..c", "/p;v=1/q:@!$&'()*+,=",
        "//other/x", "/a b", "/a%20b", "/caf\u00e9", "/a#frag", "/~user/-_.", "/a?",
        "/a?x=.&y=..", "/a/.?q", "/a/..?q", "/A/Z/0/9"};
    const struct tp_target bases[] = {
        {.name = "t", .base_url = "http://shop.test:8080/"},
        {.name = "t", .base_url = "https://shop.test/app/v1?x=1"},
        {.name = "t", .base_url = "http://user:pw@127.0.0.1:80"},
        {.name = "t", .base_url = "HTTP://Shop.Test"},
    };
    (void)state;
    for (size_t t = 0; t < sizeof bases / sizeof *bases; t++)
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
            char text[512];
            struct built b;
            snprintf(text, sizeof text,
                     "{\"name\": \"j\", \"steps\": [{\"name\": \"s\", \"request\": "
                     "{\"url\": \"%s\"}}]}",
                     paths[i]);
            build_step(&b, text, &bases[t], NULL, 0); /* compares the three ways */
            built_free(&b);
        }
}

/* A journey text: prelude, then one step with the given request object. */
static char *journey_with(const char *request, const char *extra)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s \"steps\": [{\"name\": \"s\", %s \"request\": %s}]}",
                     prelude, extra ? extra : "", request);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return buf;
}

static size_t count_headers(const struct curl_slist *h, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (; h; h = h->next)
        if (strncasecmp(h->data, name, len) == 0 && (h->data[len] == ':' || h->data[len] == ';'))
            n++;
    return n;
}

/* The value of header name ("" for "Name;"), or NULL. */
static const char *header_value(const struct curl_slist *h, const char *name)
{
    size_t len = strlen(name);
    for (; h; h = h->next) {
        if (strncasecmp(h->data, name, len) != 0)
            continue;
        if (h->data[len] == ';')
            return "";
        if (h->data[len] == ':')
            return h->data[len + 1] == ' ' ? h->data + len + 2 : h->data + len + 1;
    }
    return NULL;
}

/* ---- URL joining --------------------------------------------------------- */

/* clang-format off */
static const struct url_case {
    const char *base;
    const char *url;
    const char *want;
} url_cases[] = {
    {"http://shop.test:8080/", "/login", "http://shop.test:8080/login"},
    {"http://shop.test:8080", "login", "http://shop.test:8080/login"},
    {"http://shop.test/", "/api/cart/{{id}}", "http://shop.test/api/cart/c-42"},
    {"http://shop.test/", "https://other.test:8443/x?y=1", "https://other.test:8443/x?y=1"},
    {"http://shop.test/", "//cdn.test/a", "http://cdn.test/a"},
    /* RFC 3986 resolution: a relative path extends the prefix, an absolute path replaces it */
    {"http://h/api/", "items", "http://h/api/items"},
    {"http://h/api/", "/items", "http://h/items"},
    {"http://h/api/", "items?x=1", "http://h/api/items?x=1"},
    {"https://h/api/v1/", "../v2/items", "https://h/api/v2/items"},
};
/* clang-format on */

static void test_url_joining(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(url_cases); i++) {
        const struct url_case *c = &url_cases[i];
        struct tp_target t = {.name = "t", .base_url = (char *)c->base};
        char request[256];
        struct built b;

        snprintf(request, sizeof request, "{\"url\": \"%s\"}", c->url);
        build_with(&b, journey_with(request, NULL), &t, NULL);
        if (b.rc != TP_OK)
            print_message("case %zu: %s\n", i, b.err.text);
        assert_int_equal(b.rc, TP_OK);
        if (strcmp(b.req.url, c->want) != 0)
            print_message("case %zu: %s + %s -> %s\n", i, c->base, c->url, b.req.url);
        assert_string_equal(b.req.url, c->want);
        assert_string_equal(b.req.method, "GET");
        built_free(&b);
    }
}

/* ---- query encoding ------------------------------------------------------ */

static void test_query_encoding(void **state)
{
    struct built b;
    (void)state;
    build(&b, journey_with("{\"url\": \"/search?keep=1\", \"query\": {"
                           "\"q\": \"red shoes\", \"and\": \"a&b\", \"eq\": \"x=y\","
                           "\"utf\": \"\xc3\xa9t\xc3\xa9\", \"t\": \"{{tricky}}\","
                           "\"n\": 5, \"plus\": \"1+1\"}}",
                           NULL));
    assert_int_equal(b.rc, TP_OK);
    /* curl keeps the first '=' of each parameter, a space becomes '+' */
    assert_string_equal(b.req.url, "http://shop.test:8080/search?keep=1&q=red+shoes&and=a%26b"
                                   "&eq=x%3dy&utf=%c3%a9t%c3%a9&t=a%26b%3dc+d%2f%c3%a9%3f%23"
                                   "&n=5&plus=1%2b1");
    built_free(&b);
}

/* ---- headers ------------------------------------------------------------- */

static void test_header_precedence(void **state)
{
    struct tp_pair theaders[] = {{"X-Canary", "always"}, {"x-from", "target"}};
    struct tp_target t = {
        .name = "canary", .base_url = "https://shop.test/", .headers = theaders, .nheaders = 2};
    const char *text =
        "{\"name\": \"j\", \"variables\": {\"token\": \"x\"},"
        " \"defaults\": {\"headers\": {\"Accept\": \"application/json\", \"X-From\": \"defaults\","
        "   \"X-Keep\": \"d\"}},"
        " \"steps\": [{\"name\": \"s\", \"request\": {\"url\": \"/a\", \"headers\": {"
        "   \"accept\": \"text/html\", \"Authorization\": \"Bearer {{token}}\", \"X-Empty\": \"\","
        "   \"X-From\": \"step\"}}}]}";
    struct built b;
    const struct curl_slist *h;
    (void)state;

    build_with(&b, text, &t, "a=b; c=d");
    assert_int_equal(b.rc, TP_OK);
    h = b.req.headers;
    /* a later source replaces an earlier one of the same name, case-insensitively */
    assert_int_equal(count_headers(h, "Accept"), 1);
    assert_string_equal(header_value(h, "Accept"), "text/html");
    assert_int_equal(count_headers(h, "X-From"), 1);
    assert_string_equal(header_value(h, "X-From"), "target");
    assert_string_equal(header_value(h, "X-Keep"), "d");
    assert_string_equal(header_value(h, "Authorization"), "Bearer s3cr3t");
    assert_string_equal(header_value(h, "X-Canary"), "always");
    /* an empty value is sent empty ("Name;"), not dropped */
    assert_string_equal(header_value(h, "X-Empty"), "");
    assert_int_equal(count_headers(h, "Expect"), 0); /* no body */
    assert_int_equal(count_headers(h, "Content-Type"), 0);
    /* order: defaults first, the one replaced keeps its place */
    assert_string_equal(h->data, "accept: text/html");
    assert_string_equal(b.req.cookie, "a=b; c=d");
    built_free(&b);
}

static void test_user_agent_and_traceparent(void **state)
{
    struct built b;
    const char *tp;
    (void)state;

    build(&b, journey_with("{\"url\": \"/\"}", NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_int_equal(count_headers(b.req.headers, "User-Agent"), 1);
    assert_string_equal(header_value(b.req.headers, "User-Agent"), "twinprobe/0.1.0 (test-1)");
    tp = header_value(b.req.headers, "traceparent");
    assert_non_null(tp);
    assert_string_equal(tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert_int_equal(strlen(tp), 55); /* W3C: 2 + 1 + 32 + 1 + 16 + 1 + 2 */
    built_free(&b);

    /* A journey's own User-Agent does not hide the probe (DESIGN.md: every request). */
    build(&b, journey_with("{\"url\": \"/\", \"headers\": {\"user-agent\": \"mine/1\", "
                           "\"traceparent\": \"00-x\"}}", NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_int_equal(count_headers(b.req.headers, "User-Agent"), 1);
    assert_string_equal(header_value(b.req.headers, "User-Agent"), "twinprobe/0.1.0 (test-1)");
    assert_string_equal(header_value(b.req.headers, "traceparent"),
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert_int_equal(count_headers(b.req.headers, "traceparent"), 1);
    built_free(&b);
}

static void test_header_line_break_refused(void **state)
{
    struct built b;
    (void)state;
    build(&b, journey_with("{\"url\": \"/\", \"headers\": {\"X-Q\": \"{{quoted}}\"}}", NULL));
    assert_int_equal(b.rc, TP_ERR_INVALID);
    assert_non_null(strstr(b.err.text, "X-Q"));
    assert_null(b.req.url);
    assert_null(b.req.headers);
    built_free(&b);
}

/* ---- bodies -------------------------------------------------------------- */

static void test_json_body_escaping(void **state)
{
    struct built b;
    json_t *doc;
    json_error_t jerr;
    (void)state;

    build(&b, journey_with("{\"method\": \"POST\", \"url\": \"/api/cart\", \"json\":"
                           " {\"sku\": \"{{sku}}\", \"note\": \"{{quoted}}\", \"qty\": 1,"
                           "  \"tags\": [\"{{tricky}}\"]}}",
                           NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_non_null(b.req.body);
    assert_int_equal(b.req.body_len, strlen(b.req.body));
    doc = json_loads(b.req.body, 0, &jerr);
    if (!doc)
        print_message("body %s: %s\n", b.req.body, jerr.text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "sku")), "A-100");
    assert_string_equal(json_string_value(json_object_get(doc, "note")),
                        "say \"hi\"\\ back\nslash\ttab\x01");
    assert_int_equal(json_integer_value(json_object_get(doc, "qty")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "tags"), 0)),
                        "a&b=c d/\xc3\xa9?#");
    json_decref(doc);
    assert_string_equal(header_value(b.req.headers, "Content-Type"), "application/json");
    assert_int_equal(count_headers(b.req.headers, "Expect"), 1);
    assert_string_equal(header_value(b.req.headers, "Expect"), ""); /* "Expect:" */
    built_free(&b);

    /* a Content-Type header set by the journey is kept */
    build(&b, journey_with("{\"method\": \"PUT\", \"url\": \"/x\", \"json\": [1],"
                           " \"headers\": {\"content-type\": \"application/vnd.x+json\"}}",
                           NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_string_equal(b.req.body, "[1]");
    assert_string_equal(b.req.method, "PUT");
    assert_int_equal(count_headers(b.req.headers, "Content-Type"), 1);
    assert_string_equal(header_value(b.req.headers, "Content-Type"), "application/vnd.x+json");
    built_free(&b);
}

static void test_expect_suppressed_not_sent_empty(void **state)
{
    struct built b;
    int found = 0;
    (void)state;
    build(&b, journey_with("{\"method\": \"POST\", \"url\": \"/x\", \"body\": \"x\"}", NULL));
    assert_int_equal(b.rc, TP_OK);
    for (const struct curl_slist *h = b.req.headers; h; h = h->next)
        if (strcmp(h->data, "Expect:") == 0)
            found = 1;
    assert_true(found);
    built_free(&b);
}

static void test_form_body(void **state)
{
    struct built b;
    (void)state;
    build(&b, journey_with("{\"method\": \"POST\", \"url\": \"/login\", \"form\": {"
                           "\"user\": \"{{user}}\", \"password\": \"{{env.SHOP_PASSWORD}}\","
                           "\"odd name\": \"{{tricky}}\", \"n\": 3}}",
                           NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_string_equal(b.req.body,
                        "user=ann&password=pw%20word&odd%20name=a%26b%3Dc%20d%2F%C3%A9%3F%23&n=3");
    assert_int_equal(b.req.body_len, strlen(b.req.body));
    assert_string_equal(header_value(b.req.headers, "Content-Type"),
                        "application/x-www-form-urlencoded");
    built_free(&b);
}

static void test_multipart_parts(void **state)
{
    struct built b;
    (void)state;
    build(&b, journey_with("{\"method\": \"POST\", \"url\": \"/upload\", \"multipart\": {"
                           "\"title\": \"{{sku}}\","
                           "\"meta\": {\"value\": \"{\\\"a\\\":1}\", \"content_type\": "
                           "\"application/json\"},"
                           "\"doc\": {\"file\": \"files/a.txt\", \"filename\": \"report.txt\","
                           " \"content_type\": \"text/plain\"},"
                           "\"abs\": {\"file\": \"/etc/hostname\"}}}",
                           NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_null(b.req.body);
    assert_int_equal(b.req.nparts, 4);
    assert_string_equal(b.req.parts[0].name, "title");
    assert_string_equal(b.req.parts[0].value, "A-100");
    assert_null(b.req.parts[0].file);
    assert_string_equal(b.req.parts[1].value, "{\"a\":1}");
    assert_string_equal(b.req.parts[1].content_type, "application/json");
    assert_string_equal(b.req.parts[2].name, "doc");
    assert_null(b.req.parts[2].value);
    assert_string_equal(b.req.parts[2].file, "dir/files/a.txt"); /* relative to the journey */
    assert_string_equal(b.req.parts[2].filename, "report.txt");
    assert_string_equal(b.req.parts[2].content_type, "text/plain");
    assert_string_equal(b.req.parts[3].file, "/etc/hostname");
    assert_null(b.req.parts[3].filename);
    /* curl writes the multipart Content-Type with its boundary */
    assert_int_equal(count_headers(b.req.headers, "Content-Type"), 0);
    assert_int_equal(count_headers(b.req.headers, "Expect"), 1);
    built_free(&b);
}

static void test_raw_body(void **state)
{
    struct built b;
    (void)state;
    build(&b,
          journey_with("{\"method\": \"PATCH\", \"url\": \"/r\", \"body\": \"<a>{{quoted}}</a>\","
                       " \"headers\": {\"Content-Type\": \"application/xml\"}}",
                       NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_string_equal(b.req.body, "<a>say \"hi\"\\ back\nslash\ttab\x01</a>");
    assert_int_equal(b.req.body_len, strlen(b.req.body));
    assert_string_equal(b.req.method, "PATCH");
    assert_string_equal(header_value(b.req.headers, "Content-Type"), "application/xml");
    built_free(&b);
}

/* ---- settings ------------------------------------------------------------ */

static void test_settings_copied(void **state)
{
    struct tp_target t = {.name = "canary",
                          .base_url = "https://shop.test/",
                          .connect_to = "shop.test:443:127.0.0.1:8443",
                          .ca_file = "/etc/ca.pem",
                          .insecure = 1};
    const char *text =
        "{\"name\": \"j\", \"defaults\": {\"timeout_ms\": 3000, \"max_body_bytes\": 1024,"
        " \"connect_timeout_ms\": 700},"
        " \"steps\": [{\"name\": \"s\", \"timeout_ms\": 1500, \"follow_redirects\": true,"
        "   \"max_redirects\": 4, \"request\": {\"url\": \"/\"}}]}";
    struct built b;
    (void)state;

    build_with(&b, text, &t, NULL);
    assert_int_equal(b.rc, TP_OK);
    assert_int_equal(b.req.timeout_ms, 1500);
    assert_int_equal(b.req.connect_timeout_ms, 700);
    assert_int_equal(b.req.follow_redirects, 1);
    assert_int_equal(b.req.max_redirects, 4);
    assert_int_equal(b.req.max_body, 1024);
    assert_string_equal(b.req.connect_to, "shop.test:443:127.0.0.1:8443");
    assert_string_equal(b.req.ca_file, "/etc/ca.pem");
    assert_int_equal(b.req.insecure, 1);
    assert_null(b.req.cookie);
    assert_int_equal(b.req.fresh_connect, 0);
    built_free(&b);

    /* the defaults from journey.h */
    build(&b, journey_with("{\"url\": \"/\"}", NULL));
    assert_int_equal(b.rc, TP_OK);
    assert_int_equal(b.req.timeout_ms, TP_DEFAULT_TIMEOUT_MS);
    assert_int_equal(b.req.connect_timeout_ms, TP_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(b.req.follow_redirects, 0);
    assert_int_equal(b.req.max_body, TP_DEFAULT_MAX_BODY);
    assert_null(b.req.connect_to);
    assert_int_equal(b.req.insecure, 0);
    built_free(&b);
}

/* ---- refusals ------------------------------------------------------------ */

/* clang-format off */
static const struct refusal_case {
    const char *request;
    tp_err rc;
    enum tp_failure cls;    /* the failure class the runner records */
    const char *text_start; /* err.text starts with this */
    const char *names;      /* and contains this */
} refusal_cases[] = {
    {"{\"url\": \"file:///etc/passwd\"}", TP_ERR_INVALID, TP_FAIL_PROTOCOL, "protocol:", "file"},
    {"{\"url\": \"ftp://shop.test/x\"}", TP_ERR_INVALID, TP_FAIL_PROTOCOL, "protocol:", "ftp"},
    {"{\"url\": \"gopher://shop.test/x\"}", TP_ERR_INVALID, TP_FAIL_PROTOCOL, "protocol:",
     "gopher"},
    {"{\"url\": \"javascript:alert(1)\"}", TP_ERR_INVALID, TP_FAIL_PROTOCOL, "protocol:",
     "javascript"},
    {"{\"url\": \"/a/{{id}}/{{nope}}\"}", TP_ERR_INVALID, TP_FAIL_INTERNAL, "undefined variable",
     "\"nope\""},
    {"{\"url\": \"/\", \"headers\": {\"X\": \"{{nope}}\"}}", TP_ERR_INVALID, TP_FAIL_INTERNAL,
     "undefined", "nope"},
    {"{\"url\": \"/\", \"query\": {\"q\": \"{{nope}}\"}}", TP_ERR_INVALID, TP_FAIL_INTERNAL,
     "undefined", "nope"},
    {"{\"method\": \"POST\", \"url\": \"/\", \"json\": {\"a\": \"{{nope}}\"}}", TP_ERR_INVALID,
     TP_FAIL_INTERNAL, "undefined", "nope"},
    {"{\"method\": \"POST\", \"url\": \"/\", \"form\": {\"a\": \"{{nope}}\"}}", TP_ERR_INVALID,
     TP_FAIL_INTERNAL, "undefined", "nope"},
    {"{\"url\": \"/{{env.NOT_SET_ANYWHERE}}\"}", TP_ERR_INVALID, TP_FAIL_INTERNAL,
     "environment variable", "NOT_SET_ANYWHERE"},
};
/* clang-format on */

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(refusal_cases); i++) {
        const struct refusal_case *c = &refusal_cases[i];
        /* "nope" is captured by step "first", which in this run found nothing */
        char text[1024];
        struct built b;

        snprintf(text, sizeof text,
                 "%s \"steps\": [{\"name\": \"first\", \"request\": {\"url\": \"/\"},"
                 " \"capture\": {\"nope\": {\"header\": \"X\"}}},"
                 " {\"name\": \"s\", \"request\": %s}]}",
                 prelude, c->request);
        build_step(&b, text, NULL, NULL, 1);
        if (b.rc != c->rc || strncmp(b.err.text, c->text_start, strlen(c->text_start)) != 0 ||
            !strstr(b.err.text, c->names))
            print_message("case %zu: rc %d, text \"%s\"\n", i, (int)b.rc, b.err.text);
        assert_int_equal(b.rc, c->rc);
        assert_int_equal(b.cls, c->cls);
        assert_memory_equal(b.err.text, c->text_start, strlen(c->text_start));
        assert_non_null(strstr(b.err.text, c->names));
        /* nothing left behind on failure */
        assert_null(b.req.url);
        assert_null(b.req.method);
        assert_null(b.req.headers);
        assert_null(b.req.body);
        built_free(&b);
    }
}

static void test_secrets_not_in_messages(void **state)
{
    struct built b;
    (void)state;
    /* the url template is named by its source, never by the expanded value */
    build(&b, journey_with("{\"url\": \"file:///{{token}}\"}", NULL));
    assert_int_equal(b.rc, TP_ERR_INVALID);
    assert_null(strstr(b.err.text, "s3cr3t"));
    assert_non_null(strstr(b.err.text, "{{token}}"));
    built_free(&b);
}

/* ---- basic auth ---------------------------------------------------------- */

/* 1 when masking text with b's secrets hides it whole. */
static int masked_whole(const struct built *b, const char *text)
{
    char *m = tp_secrets_mask(b->secrets, text);
    int whole = m && strcmp(m, "***") == 0;
    free(m);
    return whole;
}

static void test_basic_auth_header(void **state)
{
    /* clang-format off */
    static const struct {
        const char *user, *password, *header;
    } cases[] = {
        {"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, /* RFC 7617 */
        {"{{user}}", "{{token}}", "Basic YW5uOnMzY3IzdA=="},               /* ann:s3cr3t */
        {"a", "", "Basic YTo="},
        {"ab", "c", "Basic YWI6Yw=="},
        {"", "", "Basic Og=="},
        {"u", "caf\u00e9", "Basic dTpjYWbDqQ=="},
    };
    /* clang-format on */
    (void)state;

    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        char request[512];
        struct built b;

        snprintf(request, sizeof request,
                 "{\"url\": \"/\", \"headers\": {\"authorization\": \"Bearer x\"},"
                 " \"auth\": {\"basic\": {\"user\": \"%s\", \"password\": \"%s\"}}}",
                 cases[i].user, cases[i].password);
        build(&b, journey_with(request, NULL));
        assert_int_equal(b.rc, TP_OK);
        /* auth replaces an Authorization header of the journey */
        assert_int_equal(count_headers(b.req.headers, "Authorization"), 1);
        assert_string_equal(header_value(b.req.headers, "Authorization"), cases[i].header);
        /* the encoded value, and the password when there is one, are secrets now */
        assert_true(masked_whole(&b, cases[i].header + 6));
        if (i == 1)
            assert_true(masked_whole(&b, "s3cr3t"));
        else if (i == 0)
            assert_true(masked_whole(&b, "open sesame"));
        built_free(&b);
    }
}

/* The step's auth wins over the target's; the target's serves steps without one. */
static void test_basic_auth_target(void **state)
{
    struct tp_target t = {.name = "canary", .base_url = "https://shop.test/"};
    struct tp_error err;
    struct built b;
    (void)state;

    tp_error_clear(&err);
    assert_int_equal(tp_template_parse("probe", &t.auth.user, &err), TP_OK);
    assert_int_equal(tp_template_parse("{{env.SHOP_PASSWORD}}", &t.auth.password, &err), TP_OK);
    build_with(&b, journey_with("{\"url\": \"/\"}", NULL), &t, NULL);
    assert_int_equal(b.rc, TP_OK);
    assert_string_equal(header_value(b.req.headers, "Authorization"),
                        "Basic cHJvYmU6cHcgd29yZA=="); /* probe:pw word */
    assert_true(masked_whole(&b, "pw word"));
    built_free(&b);
    build_with(&b,
               journey_with("{\"url\": \"/\", \"auth\": {\"basic\": {\"user\": \"a\","
                            " \"password\": \"b\"}}}",
                            NULL),
               &t, NULL);
    assert_int_equal(b.rc, TP_OK);
    assert_string_equal(header_value(b.req.headers, "Authorization"), "Basic YTpi");
    built_free(&b);
    tp_auth_clear(&t.auth);
}

static void test_basic_auth_refusals(void **state)
{
    struct built b;
    (void)state;

    /* RFC 7617: the user-id cannot hold a colon */
    build(&b, journey_with("{\"url\": \"/\", \"auth\": {\"basic\": {\"user\": \"a:b\","
                           " \"password\": \"{{token}}\"}}}",
                           NULL));
    assert_int_equal(b.rc, TP_ERR_INVALID);
    assert_int_equal(b.cls, TP_FAIL_INTERNAL);
    assert_non_null(strstr(b.err.text, "':'"));
    assert_null(strstr(b.err.text, "s3cr3t"));
    assert_null(b.req.headers);
    built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_joining),
        cmocka_unit_test(test_plain_paths_as_the_parser),
        cmocka_unit_test(test_query_encoding),
        cmocka_unit_test(test_header_precedence),
        cmocka_unit_test(test_user_agent_and_traceparent),
        cmocka_unit_test(test_header_line_break_refused),
        cmocka_unit_test(test_json_body_escaping),
        cmocka_unit_test(test_expect_suppressed_not_sent_empty),
        cmocka_unit_test(test_form_body),
        cmocka_unit_test(test_multipart_parts),
        cmocka_unit_test(test_raw_body),
        cmocka_unit_test(test_settings_copied),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_secrets_not_in_messages),
        cmocka_unit_test(test_basic_auth_header),
        cmocka_unit_test(test_basic_auth_target),
        cmocka_unit_test(test_basic_auth_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

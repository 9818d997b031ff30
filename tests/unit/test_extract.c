/* Unit tests for the evaluation half of src/extract.c (and src/response.c): every
 * value source read from responses built by hand — JSON, a broken HTML login page,
 * XML, headers, cookies, regex, bodies that are not UTF-8, timings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libxml/xmlerror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/extract.h"
#include "twinprobe/rematch.h"
#include "twinprobe/response.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- responses built by hand -------------------------------------------- */

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    assert_non_null(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_str(const char *s)
{
    return dup_bytes(s, strlen(s));
}

static void add_header(struct tp_response *r, const char *name, const char *value)
{
    struct tp_header *h = realloc(r->headers, (r->nheaders + 1) * sizeof *h);
    assert_non_null(h);
    r->headers = h;
    h[r->nheaders].name = dup_str(name);
    h[r->nheaders].value = dup_str(value);
    r->nheaders++;
}

static void add_cookie(struct tp_response *r, const char *name, const char *value)
{
    struct tp_cookie *c = realloc(r->cookies, (r->ncookies + 1) * sizeof *c);
    assert_non_null(c);
    r->cookies = c;
    c[r->ncookies].name = dup_str(name);
    c[r->ncookies].value = dup_str(value);
    c[r->ncookies].domain = dup_str("shop.example");
    c[r->ncookies].path = dup_str("/");
    r->ncookies++;
}

/* A response with status, body (len bytes) and an optional Content-Type. */
static void make_response(struct tp_response *r, long status, const char *content_type,
                          const char *body, size_t len)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->body = dup_bytes(body, len);
    r->body_len = len;
    r->effective_url = dup_str("https://shop.example/cart?x=1");
    if (content_type)
        add_header(r, "Content-Type", content_type);
    r->timings.dns_ms = 0.25;
    r->timings.connect_ms = 1.5;
    r->timings.tls_ms = 0;
    r->timings.ttfb_ms = 40.75;
    r->timings.download_ms = 0.5;
    r->timings.total_ms = 43;
}

/* ---- fixtures ----------------------------------------------------------- */

enum fixture { FX_JSON, FX_LOGIN, FX_XML, FX_BAD_UTF8, FX_SCALAR, FX_SNIFFED, FX_EMPTY };

static const char json_body[] =
    "{\"cart\": {\"id\": \"c-42\", \"items\": [{\"sku\": \"A-100\", \"qty\": 2},"
    " {\"sku\": \"B-7\", \"qty\": 1}], \"total\": 31.5, \"note\": null},"
    " \"ok\": true, \"tags\": []}";

/* Broken on purpose: unquoted attributes, unclosed <p>, <div>, <form>. */
static const char login_body[] = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
                                 "<body><h1>Sign in</h1><form method=post action=/login>\n"
                                 "<input type=hidden name=csrf value=\"f1a9c3\">\n"
                                 "<input name=user><p>Forgot your password?<br>\n"
                                 "<div class=\"x\">  unclosed  \n</body>";

static const char xml_body[] =
    "<?xml version=\"1.0\"?>\n<feed><entry id=\"1\"><title>One</title></entry>"
    "<entry id=\"2\"><title>Two</title></entry></feed>";

static const char bad_utf8_body[] = "ab\xff\xfe"
                                    "cd\xc3\xa9";

static const char sniffed_body[] = " \r\n<!DOCTYPE HTML><html><body><b>bold<i>both</b>";

static void load_fixture(struct tp_response *r, enum fixture fx)
{
    switch (fx) {
    case FX_JSON:
        make_response(r, 200, "application/json; charset=utf-8", json_body, strlen(json_body));
        add_header(r, "Set-Cookie", "shop_session=s3cr3t; Path=/");
        add_header(r, "set-cookie", "second=1");
        add_header(r, "X-Request-Id", "r-1");
        add_cookie(r, "shop_session", "s3cr3t");
        add_cookie(r, "theme", "");
        break;
    case FX_LOGIN:
        make_response(r, 200, "Text/HTML; charset=UTF-8", login_body, strlen(login_body));
        break;
    case FX_XML:
        make_response(r, 200, "application/atom+xml", xml_body, strlen(xml_body));
        break;
    case FX_BAD_UTF8:
        make_response(r, 200, "text/plain", bad_utf8_body, sizeof bad_utf8_body - 1);
        break;
    case FX_SCALAR:
        make_response(r, 201, "application/json", "  42 \n", 6);
        break;
    case FX_SNIFFED:
        make_response(r, 200, NULL, sniffed_body, strlen(sniffed_body));
        break;
    case FX_EMPTY:
        make_response(r, 204, NULL, "", 0);
        break;
    }
}

/* ---- the table ---------------------------------------------------------- */

struct source_case {
    const char *name;
    enum fixture fx;
    enum tp_source_kind kind;
    const char *arg;
    const char *want; /* the value as JSON text (integer vs real matters); NULL: nothing */
    size_t count;
};

static const struct source_case cases[] = {
    /* jsonpath: first node, count of nodes */
    {"jsonpath string", FX_JSON, TP_SRC_JSONPATH, "$.cart.id", "\"c-42\"", 1},
    {"jsonpath first of many", FX_JSON, TP_SRC_JSONPATH, "$.cart.items[*].sku", "\"A-100\"", 2},
    {"jsonpath array node", FX_JSON, TP_SRC_JSONPATH, "$.tags", "[]", 1},
    {"jsonpath object node", FX_JSON, TP_SRC_JSONPATH, "$.cart.items[1]",
     "{\"sku\": \"B-7\", \"qty\": 1}", 1},
    {"jsonpath real", FX_JSON, TP_SRC_JSONPATH, "$.cart.total", "31.5", 1},
    {"jsonpath null is found", FX_JSON, TP_SRC_JSONPATH, "$.cart.note", "null", 1},
    {"jsonpath no match", FX_JSON, TP_SRC_JSONPATH, "$.cart.coupon", NULL, 0},
    {"jsonpath empty wildcard", FX_JSON, TP_SRC_JSONPATH, "$.tags[*]", NULL, 0},
    {"jsonpath on html", FX_LOGIN, TP_SRC_JSONPATH, "$", NULL, 0},
    {"jsonpath scalar body", FX_SCALAR, TP_SRC_JSONPATH, "$", "42", 1},
    {"jsonpath empty body", FX_EMPTY, TP_SRC_JSONPATH, "$", NULL, 0},
    /* xpath over broken HTML */
    {"xpath string() attr", FX_LOGIN, TP_SRC_XPATH, "string(//input[@name='csrf']/@value)",
     "\"f1a9c3\"", 1},
    {"xpath attr node set", FX_LOGIN, TP_SRC_XPATH, "//input[@name='csrf']/@value", "\"f1a9c3\"",
     1},
    {"xpath element text", FX_LOGIN, TP_SRC_XPATH, "//title", "\"Sign in\"", 1},
    {"xpath node set first", FX_LOGIN, TP_SRC_XPATH, "//input", "\"\"", 2},
    {"xpath recovered div", FX_LOGIN, TP_SRC_XPATH, "normalize-space(//div[@class='x'])",
     "\"unclosed\"", 1},
    {"xpath number", FX_LOGIN, TP_SRC_XPATH, "count(//input)", "2", 1},
    {"xpath boolean", FX_LOGIN, TP_SRC_XPATH, "boolean(//form)", "true", 1},
    {"xpath empty string is a value", FX_LOGIN, TP_SRC_XPATH, "string(//nothing)", "\"\"", 1},
    {"xpath empty node set", FX_LOGIN, TP_SRC_XPATH, "//nothing", NULL, 0},
    {"xpath real", FX_LOGIN, TP_SRC_XPATH, "count(//input) * 0.75", "1.5", 1},
    {"xpath infinity", FX_LOGIN, TP_SRC_XPATH, "1 div 0", "\"Infinity\"", 1},
    {"xpath NaN", FX_LOGIN, TP_SRC_XPATH, "number('x')", "\"NaN\"", 1},
    {"xpath sniffed html", FX_SNIFFED, TP_SRC_XPATH, "//i", "\"both\"", 1},
    /* xpath over XML */
    {"xpath xml nodes", FX_XML, TP_SRC_XPATH, "//entry/title", "\"One\"", 2},
    {"xpath xml attr", FX_XML, TP_SRC_XPATH, "string(//entry[2]/@id)", "\"2\"", 1},
    {"xpath xml count", FX_XML, TP_SRC_XPATH, "count(//entry)", "2", 1},
    {"xpath on json", FX_JSON, TP_SRC_XPATH, "string(/)", NULL, 0},
    {"xpath on empty body", FX_EMPTY, TP_SRC_XPATH, "string(//input/@value)", NULL, 0},
    /* regex: group 1, else the whole match */
    {"regex group", FX_JSON, TP_SRC_REGEX, "\"sku\": \"([A-Z]-\\d+)\"", "\"A-100\"", 1},
    {"regex no group", FX_JSON, TP_SRC_REGEX, "[A-Z]-\\d{3}", "\"A-100\"", 1},
    {"regex unused group", FX_JSON, TP_SRC_REGEX, "(Z)?B-7", "\"B-7\"", 1},
    {"regex empty group", FX_JSON, TP_SRC_REGEX, "\"tags\": \\[()\\]", "\"\"", 1},
    {"regex no match", FX_JSON, TP_SRC_REGEX, "C-\\d+", NULL, 0},
    {"regex on bad utf-8", FX_BAD_UTF8, TP_SRC_REGEX, "c(d.)", "\"d\\u00e9\"", 1},
    {"regex not across bad byte", FX_BAD_UTF8, TP_SRC_REGEX, "b.", NULL, 0},
    /* headers (case-insensitive, first), cookies */
    {"header any case", FX_JSON, TP_SRC_HEADER, "content-TYPE",
     "\"application/json; charset=utf-8\"", 1},
    {"header first of two", FX_JSON, TP_SRC_HEADER, "SET-COOKIE", "\"shop_session=s3cr3t; Path=/\"",
     1},
    {"header missing", FX_JSON, TP_SRC_HEADER, "Location", NULL, 0},
    {"cookie", FX_JSON, TP_SRC_COOKIE, "shop_session", "\"s3cr3t\"", 1},
    {"cookie empty value", FX_JSON, TP_SRC_COOKIE, "theme", "\"\"", 1},
    {"cookie name is case-sensitive", FX_JSON, TP_SRC_COOKIE, "SHOP_SESSION", NULL, 0},
    {"cookie missing", FX_LOGIN, TP_SRC_COOKIE, "shop_session", NULL, 0},
    /* response facts */
    {"status", FX_SCALAR, TP_SRC_STATUS, NULL, "201", 1},
    {"size_bytes", FX_SCALAR, TP_SRC_SIZE_BYTES, NULL, "6", 1},
    {"url", FX_JSON, TP_SRC_URL, NULL, "\"https://shop.example/cart?x=1\"", 1},
    {"body", FX_SCALAR, TP_SRC_BODY, NULL, "\"  42 \\n\"", 1},
    {"body empty", FX_EMPTY, TP_SRC_BODY, NULL, "\"\"", 1},
    {"body bad utf-8", FX_BAD_UTF8, TP_SRC_BODY, NULL, "\"ab\\ufffd\\ufffdcd\\u00e9\"", 1},
    {"duration_ms", FX_JSON, TP_SRC_DURATION_MS, NULL, "43.0", 1},
    {"ttfb_ms", FX_JSON, TP_SRC_TTFB_MS, NULL, "40.75", 1},
    {"dns_ms", FX_JSON, TP_SRC_DNS_MS, NULL, "0.25", 1},
    {"connect_ms", FX_JSON, TP_SRC_CONNECT_MS, NULL, "1.5", 1},
    {"tls_ms", FX_JSON, TP_SRC_TLS_MS, NULL, "0.0", 1},
};

/* Checks one case; prints what differs and returns 0 on a mismatch. */
static int run_case(const struct source_case *c)
{
    struct tp_response r;
    struct tp_source src;
    struct tp_value v;
    struct tp_error err;
    json_t *want = c->want ? json_loads(c->want, JSON_DECODE_ANY, NULL) : NULL;
    int ok = 1;

    tp_error_clear(&err);
    load_fixture(&r, c->fx);
    assert_int_equal(tp_source_compile(&src, c->kind, c->arg, &err), TP_OK);
    if (tp_source_eval(&src, &r, &v, &err) != TP_OK) {
        print_message("%s: error %s\n", c->name, err.text);
        ok = 0;
    } else if (c->want ? !v.value || !json_equal(want, v.value) : v.value != NULL) {
        char *got = v.value ? json_dumps(v.value, JSON_ENCODE_ANY) : NULL;
        print_message("%s: want %s, got %s\n", c->name, c->want ? c->want : "nothing",
                      got ? got : "nothing");
        free(got);
        ok = 0;
    } else if (v.count != c->count) {
        print_message("%s: want count %zu, got %zu\n", c->name, c->count, v.count);
        ok = 0;
    }
    tp_value_clear(&v);
    assert_null(v.value);
    json_decref(want);
    tp_source_clear(&src);
    tp_response_clear(&r);
    return ok;
}

static void test_source_table(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < COUNT_OF(cases); i++)
        failed += !run_case(&cases[i]);
    assert_int_equal(failed, 0);
}

/* ---- parsing happens once, and safely ----------------------------------- */

static void eval_ok(const char *arg, enum tp_source_kind kind, struct tp_response *r,
                    struct tp_value *v)
{
    struct tp_source src;
    struct tp_error err;
    tp_error_clear(&err);
    assert_int_equal(tp_source_compile(&src, kind, arg, &err), TP_OK);
    assert_int_equal(tp_source_eval(&src, r, v, &err), TP_OK);
    tp_source_clear(&src);
}

static void test_bodies_parsed_once(void **state)
{
    (void)state;
    struct tp_response r;
    struct tp_value v;

    load_fixture(&r, FX_JSON);
    eval_ok("$.ok", TP_SRC_JSONPATH, &r, &v);
    assert_int_equal(r.json_state, 1);
    json_t *doc = r.json;
    tp_value_clear(&v);
    eval_ok("$.cart.id", TP_SRC_JSONPATH, &r, &v);
    assert_ptr_equal(r.json, doc);
    tp_value_clear(&v);
    eval_ok("//x", TP_SRC_XPATH, &r, &v);
    assert_int_equal(r.xml_state, -1);
    assert_null(r.xml_doc);
    tp_value_clear(&v);
    tp_response_clear(&r);

    load_fixture(&r, FX_LOGIN);
    eval_ok("//title", TP_SRC_XPATH, &r, &v);
    assert_int_equal(r.xml_state, 1);
    void *xdoc = r.xml_doc;
    tp_value_clear(&v);
    eval_ok("//h1", TP_SRC_XPATH, &r, &v);
    assert_ptr_equal(r.xml_doc, xdoc);
    assert_non_null(r.xpath_ctx);
    assert_string_equal(json_string_value(v.value), "Sign in");
    tp_value_clear(&v);
    /* A reused context still starts at the root. */
    eval_ok("count(//h1)", TP_SRC_XPATH, &r, &v);
    assert_int_equal(json_integer_value(v.value), 1);
    tp_value_clear(&v);
    /* Dropped markup is parsed again on demand, with the same result. */
    tp_response_drop_markup(&r);
    assert_null(r.xml_doc);
    assert_null(r.xpath_ctx);
    assert_int_equal(r.xml_state, 0);
    assert_non_null(r.body);
    eval_ok("//h1", TP_SRC_XPATH, &r, &v);
    assert_string_equal(json_string_value(v.value), "Sign in");
    tp_value_clear(&v);
    eval_ok("$", TP_SRC_JSONPATH, &r, &v);
    assert_int_equal(r.json_state, -1);
    assert_null(v.value);
    tp_response_clear(&r);
}

/* A value outlives the response it was read from. */
static void test_value_outlives_response(void **state)
{
    (void)state;
    struct tp_response r;
    struct tp_value v;

    load_fixture(&r, FX_JSON);
    eval_ok("$.cart.items[0]", TP_SRC_JSONPATH, &r, &v);
    tp_response_clear(&r);
    assert_string_equal(json_string_value(json_object_get(v.value, "sku")), "A-100");
    tp_value_clear(&v);
}

static int saw_error;
static void recording_handler(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
    saw_error = 1;
}

/* No entity expansion, no external entities, no network; libxml2's own error
 * output is silenced while we parse, and the caller's handler comes back. */
static void test_xml_hostile_bodies(void **state)
{
    (void)state;
    static const char xxe[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<r>[&x;]</r>";
    static const char laughs[] = "<?xml version=\"1.0\"?>\n<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
                                 "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c "
                                 "\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
                                 "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e "
                                 "\"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
                                 "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g "
                                 "\"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
                                 "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i "
                                 "\"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">"
                                 "]><l>&i;</l>";
    static const char broken[] = "<?xml version=\"1.0\"?><a><b></a>";
    struct tp_response r;
    struct tp_value v;

    saw_error = 0;
    xmlSetStructuredErrorFunc(NULL, recording_handler);

    make_response(&r, 200, "application/xml", xxe, strlen(xxe));
    eval_ok("string(/r)", TP_SRC_XPATH, &r, &v);
    if (v.value) { /* parsed without the external entity: never the file's text */
        assert_null(strstr(json_string_value(v.value), "root:"));
    }
    tp_value_clear(&v);
    tp_response_clear(&r);

    make_response(&r, 200, "application/xml", laughs, strlen(laughs));
    eval_ok("string-length(/l)", TP_SRC_XPATH, &r, &v);
    if (v.value && json_is_integer(v.value))
        assert_true(json_integer_value(v.value) < 1000000);
    tp_value_clear(&v);
    tp_response_clear(&r);

    make_response(&r, 200, "application/xml", broken, strlen(broken));
    eval_ok("//b", TP_SRC_XPATH, &r, &v);
    assert_null(v.value);
    assert_int_equal(r.xml_state, -1);
    tp_response_clear(&r);

    assert_int_equal(saw_error, 0);
    assert_ptr_equal(xmlStructuredError, recording_handler);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

static void test_xpath_evaluation_error(void **state)
{
    (void)state;
    struct tp_response r;
    struct tp_source src;
    struct tp_value v;
    struct tp_error err;

    tp_error_clear(&err);
    load_fixture(&r, FX_LOGIN);
    assert_int_equal(tp_source_compile(&src, TP_SRC_XPATH, "no-such-function(//a)", &err), TP_OK);
    assert_int_equal(tp_source_eval(&src, &r, &v, &err), TP_ERR_INVALID);
    assert_null(v.value);
    assert_non_null(strstr(err.text, "XPath evaluation failed"));
    tp_source_clear(&src);
    tp_response_clear(&r);
}

/* ---- helpers: describe, regex search, UTF-8 ----------------------------- */

static void test_describe(void **state)
{
    (void)state;
    static const struct {
        enum tp_source_kind kind;
        const char *arg;
        const char *want;
    } rows[] = {
        {TP_SRC_STATUS, NULL, "status"},
        {TP_SRC_HEADER, "Location", "header Location"},
        {TP_SRC_COOKIE, "shop_session", "cookie shop_session"},
        {TP_SRC_JSONPATH, "$.a", "jsonpath $.a"},
        {TP_SRC_XPATH, "//x", "xpath //x"},
        {TP_SRC_REGEX, "id=(\\d+)", "regex id=(\\d+)"},
        {TP_SRC_BODY, NULL, "body"},
        {TP_SRC_URL, NULL, "url"},
        {TP_SRC_SIZE_BYTES, NULL, "size_bytes"},
        {TP_SRC_DURATION_MS, NULL, "duration_ms"},
        {TP_SRC_TTFB_MS, NULL, "ttfb_ms"},
        {TP_SRC_DNS_MS, NULL, "dns_ms"},
        {TP_SRC_CONNECT_MS, NULL, "connect_ms"},
        {TP_SRC_TLS_MS, NULL, "tls_ms"},
    };
    char buf[64];
    struct tp_error err;

    for (size_t i = 0; i < COUNT_OF(rows); i++) {
        struct tp_source src;
        tp_error_clear(&err);
        assert_int_equal(tp_source_compile(&src, rows[i].kind, rows[i].arg, &err), TP_OK);
        assert_string_equal(tp_source_describe(&src, buf, sizeof buf), rows[i].want);
        tp_source_clear(&src);
    }

    /* cut on a character boundary: "header é…" never ends inside "é" */
    struct tp_source src;
    assert_int_equal(tp_source_compile(&src, TP_SRC_HEADER, "\xc3\xa9\xc3\xa9", &err), TP_OK);
    assert_string_equal(tp_source_describe(&src, buf, 10), "header \xc3\xa9");
    assert_string_equal(tp_source_describe(&src, buf, 11), "header \xc3\xa9");
    assert_string_equal(tp_source_describe(&src, buf, 12), "header \xc3\xa9\xc3\xa9");
    tp_source_clear(&src);
}

static void test_regex_search(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        const char *subject;
        int want;
        size_t start, len;
    } rows[] = {
        {"id=(\\d+)", "x id=42;", 1, 5, 2}, {"id=\\d+", "x id=42;", 1, 2, 5},
        {"(a)|b", "xb", 1, 1, 1},           {"^$", "", 1, 0, 0},
        {"nope", "haystack", 0, 0, 0},      {"caf\\x{e9}", "un caf\xc3\xa9", 1, 3, 5},
        {"a\\Kb", "ab", 1, 1, 1},
    };
    struct tp_error err;

    for (size_t i = 0; i < COUNT_OF(rows); i++) {
        struct tp_regex *re = NULL;
        size_t start = 99, len = 99;
        tp_error_clear(&err);
        assert_int_equal(tp_regex_compile(rows[i].pattern, &re, &err), TP_OK);
        assert_int_equal(
            tp_regex_search(re, rows[i].subject, strlen(rows[i].subject), &start, &len),
            rows[i].want);
        if (rows[i].want == 1) {
            assert_int_equal(start, rows[i].start);
            assert_int_equal(len, rows[i].len);
        }
        tp_regex_free(re);
    }
    size_t s, l;
    assert_int_equal(tp_regex_search(NULL, "x", 1, &s, &l), -1);
    /* a subject with NUL bytes is searched to its length */
    struct tp_regex *re = NULL;
    assert_int_equal(tp_regex_compile("z", &re, &err), TP_OK);
    assert_int_equal(tp_regex_search(re, "a\0z", 3, &s, &l), 1);
    assert_int_equal(s, 2);
    tp_regex_free(re);
}

/* Bounded work (STYLE 14, rematch.h): (a+)+$ over 21 KB of "aaa...a!" runs costs
 * PCRE2 less than its match limit at each start position but 10^9 steps in all;
 * the budget across positions ends it with -2, and a shared budget spent stops
 * the next search at once. A subject over TP_REGEX_MAX_SUBJECT is refused. */
static void test_regex_budget(void **state)
{
    (void)state;
    struct tp_regex *re = NULL;
    struct tp_error err;
    size_t n = 1100 * 19, s, l;
    char *subject = malloc(TP_REGEX_MAX_SUBJECT + 1);
    unsigned long budget = TP_REGEX_BUDGET;

    assert_non_null(subject);
    for (size_t i = 0; i < n; i++)
        subject[i] = i % 19 == 18 ? '!' : 'a';
    tp_error_clear(&err);
    assert_int_equal(tp_regex_compile("(a+)+$", &re, &err), TP_OK);
    assert_int_equal(tp_regex_search(re, subject, n, &s, &l), -2);
    assert_int_equal(tp_regex_search_budget(re, subject, n, &budget, &s, &l), -2);
    assert_int_equal(budget, 0);
    assert_int_equal(tp_regex_search_budget(re, "aaa", 3, &budget, &s, &l), -2);
    tp_regex_free(re);
    assert_int_equal(tp_regex_compile("x", &re, &err), TP_OK);
    memset(subject, 'a', TP_REGEX_MAX_SUBJECT + 1);
    assert_int_equal(tp_regex_search(re, subject, TP_REGEX_MAX_SUBJECT + 1, &s, &l), -2);
    assert_int_equal(tp_regex_search(re, subject, TP_REGEX_MAX_SUBJECT, &s, &l), 0);
    tp_regex_free(re);
    free(subject);
}

/* An XPath nested deeper than libxml2's recursion limit is a compile error (it
 * overflowed the stack when compiled without a context). */
static void test_xpath_nesting_limit(void **state)
{
    (void)state;
    enum { DEEP = 200000 };
    struct tp_source src;
    struct tp_error err;
    char *expr = malloc(2 * DEEP + 2);

    assert_non_null(expr);
    memset(expr, '(', DEEP);
    expr[DEEP] = '1';
    memset(expr + DEEP + 1, ')', DEEP);
    expr[2 * DEEP + 1] = '\0';
    tp_error_clear(&err);
    assert_int_equal(tp_source_compile(&src, TP_SRC_XPATH, expr, &err), TP_ERR_INVALID);
    assert_non_null(strstr(err.text, "nested too deeply"));
    tp_source_clear(&src);
    free(expr);
}

static void test_value_string(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want; /* JSON text */
    } rows[] = {
        {"plain", 5, "\"plain\""},
        {"caf\xc3\xa9", 5, "\"caf\\u00e9\""},
        {"\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\""},    /* U+1F600 */
        {"a\xc0\x80z", 4, "\"a\\ufffd\\ufffdz\""},        /* overlong NUL */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"\xf5\x80\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"x\xe2\x82", 3, "\"x\\ufffd\\ufffd\""}, /* cut short */
        {"a\0b", 3, "\"a\\u0000b\""},
        {"", 0, "\"\""},
    };
    for (size_t i = 0; i < COUNT_OF(rows); i++) {
        json_t *v = tp_value_string(rows[i].in, rows[i].len);
        json_t *want = json_loads(rows[i].want, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(v);
        assert_non_null(want);
        assert_true(json_equal(v, want));
        json_decref(v);
        json_decref(want);
    }
}

/* ---- response.c --------------------------------------------------------- */

static void test_response_helpers(void **state)
{
    (void)state;
    static const struct {
        const char *content_type;
        const char *want;
    } rows[] = {
        {"Text/HTML; charset=UTF-8", "text/html"},
        {"  application/json  ", "application/json"},
        {"application/problem+json;charset=utf-8", "application/problem+json"},
        {"", ""},
        {NULL, ""},
    };
    struct tp_response r;
    char buf[32];

    for (size_t i = 0; i < COUNT_OF(rows); i++) {
        make_response(&r, 200, rows[i].content_type, "", 0);
        assert_string_equal(tp_response_media_type(&r, buf, sizeof buf), rows[i].want);
        tp_response_clear(&r);
    }
    make_response(&r, 200, "application/vnd.example.very-long-type", "", 0);
    assert_string_equal(tp_response_media_type(&r, buf, 8), "applica");
    add_header(&r, "X-A", "1");
    add_header(&r, "x-a", "2");
    assert_string_equal(tp_response_header(&r, "X-a"), "1");
    assert_null(tp_response_header(&r, "X-B"));
    assert_null(tp_response_header(NULL, "X-A"));

    /* clear frees the caches too, and zeroes */
    struct tp_value v;
    eval_ok("$", TP_SRC_JSONPATH, &r, &v);
    tp_response_clear(&r);
    assert_null(r.headers);
    assert_int_equal(r.nheaders, 0);
    assert_int_equal(r.json_state, 0);
    tp_response_clear(&r);
    tp_response_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_table),
        cmocka_unit_test(test_regex_budget),
        cmocka_unit_test(test_xpath_nesting_limit),
        cmocka_unit_test(test_bodies_parsed_once),
        cmocka_unit_test(test_value_outlives_response),
        cmocka_unit_test(test_xml_hostile_bodies),
        cmocka_unit_test(test_xpath_evaluation_error),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_regex_search),
        cmocka_unit_test(test_value_string),
        cmocka_unit_test(test_response_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

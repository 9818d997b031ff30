/* Unit tests for src/template.c: parsing, expansion with a fake environment,
 * escaping, and secret masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/template.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a fake environment: fixed tables, scripted random numbers, fixed clock */

struct fake_env {
    const char *const *vars; /* name, value, name, value, ..., NULL */
    const char *const *envs;
    const uint64_t *randoms; /* returned in turn, then repeated from the start */
    size_t nrandoms;
    size_t next_random;
    int64_t now;
    int anything_defined; /* lookups of any name give "v" */
};

static const char *find_pair(const char *const *pairs, const char *name)
{
    size_t i;
    for (i = 0; pairs && pairs[i]; i += 2)
        if (strcmp(pairs[i], name) == 0)
            return pairs[i + 1];
    return NULL;
}

static const char *fake_var(void *ctx, const char *name)
{
    struct fake_env *f = ctx;
    return f->anything_defined ? "v" : find_pair(f->vars, name);
}

static const char *fake_getenv(void *ctx, const char *name)
{
    struct fake_env *f = ctx;
    return f->anything_defined ? "v" : find_pair(f->envs, name);
}

static uint64_t fake_random(void *ctx)
{
    struct fake_env *f = ctx;
    uint64_t r;
    if (f->nrandoms == 0)
        return 0;
    r = f->randoms[f->next_random % f->nrandoms];
    f->next_random++;
    return r;
}

static int64_t fake_now(void *ctx)
{
    struct fake_env *f = ctx;
    return f->now;
}

static struct tp_template_env env_for(struct fake_env *f)
{
    struct tp_template_env env = {fake_var, fake_getenv, fake_random, fake_now, f};
    return env;
}

static const char *const default_vars[] = {
    "sku", "A-100", "user", "ann", "quote", "say \"hi\"", "empty", "", NULL,
};
static const char *const default_envs[] = {
    "SHOP_USER", "shopper", "HOME", "/home/ann", NULL,
};
static const uint64_t default_randoms[] = {
    UINT64_C(0x0011223344556677),
    UINT64_C(0x8899aabbccddeeff),
};

static struct fake_env default_fake(void)
{
    struct fake_env f = {.vars = default_vars,
                         .envs = default_envs,
                         .randoms = default_randoms,
                         .nrandoms = COUNT_OF(default_randoms),
                         .now = INT64_C(1700000000123)};
    return f;
}

/* Parses src (which must parse) and expands it; returns the new string. */
static char *expand_with(struct fake_env *f, const char *src, enum tp_tpl_escape esc)
{
    struct tp_template_env env = env_for(f);
    struct tp_error err;
    tp_template *t = NULL;
    char *out = NULL;

    tp_error_clear(&err);
    assert_int_equal(tp_template_parse(src, &t, &err), TP_OK);
    assert_int_equal(tp_template_expand(t, &env, esc, &out, &err), TP_OK);
    assert_non_null(out);
    tp_template_free(t);
    return out;
}

/* ---- parsing ------------------------------------------------------------ */

struct part_want {
    enum tp_tpl_kind kind;
    const char *text; /* NULL for the built-ins */
};

/* clang-format off */
static const struct parse_case {
    const char *src;
    size_t count;
    struct part_want parts[6];
} parse_cases[] = {
    {"", 0, {{TP_TPL_TEXT, NULL}}},
    {"plain text", 1, {{TP_TPL_TEXT, "plain text"}}},
    {"{{sku}}", 1, {{TP_TPL_VAR, "sku"}}},
    {"a{{x}}b{{env.HOME}}c", 5,
     {{TP_TPL_TEXT, "a"}, {TP_TPL_VAR, "x"}, {TP_TPL_TEXT, "b"}, {TP_TPL_ENV, "HOME"},
      {TP_TPL_TEXT, "c"}}},
    {"{{a}}{{b}}", 2, {{TP_TPL_VAR, "a"}, {TP_TPL_VAR, "b"}}},
    {"{{ sku }}", 1, {{TP_TPL_VAR, "sku"}}},
    {"{{\t sku\r\n}}", 1, {{TP_TPL_VAR, "sku"}}},
    {"{{  env.SHOP_USER  }}", 1, {{TP_TPL_ENV, "SHOP_USER"}}},
    {"{{uuid}}-{{now_ms}}-{{random_int}}", 5,
     {{TP_TPL_UUID, NULL}, {TP_TPL_TEXT, "-"}, {TP_TPL_NOW_MS, NULL}, {TP_TPL_TEXT, "-"},
      {TP_TPL_RANDOM_INT, NULL}}},
    {"{{ uuid }}", 1, {{TP_TPL_UUID, NULL}}},
    {"{{UUID}}", 1, {{TP_TPL_VAR, "UUID"}}},
    {"{{uuid2}}", 1, {{TP_TPL_VAR, "uuid2"}}},
    {"{{env}}", 1, {{TP_TPL_VAR, "env"}}},
    {"{{envx.Y}}", 1, {{TP_TPL_VAR, "envx.Y"}}},
    {"{{env.A.b-c}}", 1, {{TP_TPL_ENV, "A.b-c"}}},
    {"{{_a.b-c_9}}", 1, {{TP_TPL_VAR, "_a.b-c_9"}}},
    {"x}}y", 1, {{TP_TPL_TEXT, "x}}y"}}},
    {"}}", 1, {{TP_TPL_TEXT, "}}"}}},
    {"{a} { b } }{", 1, {{TP_TPL_TEXT, "{a} { b } }{"}}},
    {"{ {a} }", 1, {{TP_TPL_TEXT, "{ {a} }"}}},
    {"{{a}}}", 2, {{TP_TPL_VAR, "a"}, {TP_TPL_TEXT, "}"}}},
    {"{\"q\":\"{{sku}}\"}", 3,
     {{TP_TPL_TEXT, "{\"q\":\""}, {TP_TPL_VAR, "sku"}, {TP_TPL_TEXT, "\"}"}}},
    {"caf\xc3\xa9 {{x}}", 2, {{TP_TPL_TEXT, "caf\xc3\xa9 "}, {TP_TPL_VAR, "x"}}},
};
/* clang-format on */

static void test_parse_cases(void **state)
{
    size_t i, k;
    (void)state;

    for (i = 0; i < COUNT_OF(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct tp_error err;
        tp_template *t = NULL;
        const struct tp_tpl_part *parts;
        size_t count = 99;
        int literal = 1;

        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(c->src, &t, &err), TP_OK);
        assert_non_null(t);
        assert_string_equal(tp_template_source(t), c->src);
        parts = tp_template_parts(t, &count);
        if (count != c->count)
            fail_msg("\"%s\": %zu parts, want %zu", c->src, count, c->count);
        for (k = 0; k < count; k++) {
            if (parts[k].kind != c->parts[k].kind)
                fail_msg("\"%s\": part %zu is kind %d, want %d", c->src, k, (int)parts[k].kind,
                         (int)c->parts[k].kind);
            if (c->parts[k].kind != TP_TPL_TEXT)
                literal = 0;
            if (c->parts[k].text) {
                assert_non_null(parts[k].text);
                assert_string_equal(parts[k].text, c->parts[k].text);
            } else {
                assert_null(parts[k].text);
            }
            if (c->parts[k].kind == TP_TPL_TEXT)
                assert_int_equal(parts[k].len, strlen(c->parts[k].text));
            else
                assert_int_equal(parts[k].len, 0);
        }
        assert_int_equal(tp_template_is_literal(t), literal);
        tp_template_free(t);
    }
}

/* clang-format off */
static const struct parse_error_case {
    const char *src;
    int column;
    const char *text; /* a substring of err.text */
} parse_error_cases[] = {
    {"{{", 1, "unterminated"},
    {"{{sku", 1, "unterminated"},
    {"ab{{c", 3, "unterminated"},
    {"{{a}", 1, "unterminated"},
    {"{{a}} and {{b", 11, "unterminated"},
    {"{{a} }", 1, "unterminated"},
    {"{{}}", 1, "empty placeholder name"},
    {"x {{   }}", 3, "empty placeholder name"},
    {"{{\t\n}}", 1, "empty placeholder name"},
    {"{{1a}}", 3, "must start with a letter or '_', not '1'"},
    {"{{ -a }}", 4, "must start with a letter or '_', not '-'"},
    {"{{.a}}", 3, "not '.'"},
    {"{{{a}}}", 3, "not '{'"},
    {"{{a b}}", 4, "unexpected space in placeholder name"},
    {"{{a\tb}}", 4, "unexpected tab"},
    {"{{a$}}", 4, "unexpected '$'"},
    {"{{ab/c}}", 5, "unexpected '/'"},
    {"{{a {{b}}", 4, "unexpected space"},
    {"{{a\x80}}", 4, "unexpected byte 0x80"},
    {"{{\x01}}", 3, "not byte 0x01"},
    {"{{env.}}", 7, "missing environment variable name"},
    {"{{ env. }}", 8, "missing environment variable name"},
    {"{{env.1X}}", 7, "environment variable name must start with a letter or '_', not '1'"},
    {"{{env..X}}", 7, "not '.'"},
    {"ok {{sku}} then {{bad name}}", 22, "unexpected space"},
};
/* clang-format on */

static void test_parse_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(parse_error_cases); i++) {
        const struct parse_error_case *c = &parse_error_cases[i];
        struct tp_error err;
        tp_template *t = (tp_template *)&err; /* must be reset to NULL */

        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(c->src, &t, &err), TP_ERR_INVALID);
        assert_null(t);
        assert_int_equal(err.column, c->column);
        if (!strstr(err.text, c->text))
            fail_msg("\"%s\": got \"%s\", want it to contain \"%s\"", c->src, err.text, c->text);
    }
}

static void test_parse_keeps_error_location(void **state)
{
    struct tp_error err;
    tp_template *t = NULL;
    (void)state;

    tp_error_clear(&err);
    snprintf(err.file, sizeof err.file, "checkout.json");
    snprintf(err.path, sizeof err.path, "steps[1].request.url");
    err.line = 12;
    assert_int_equal(tp_template_parse("/x/{{}}", &t, &err), TP_ERR_INVALID);
    assert_string_equal(err.file, "checkout.json");
    assert_string_equal(err.path, "steps[1].request.url");
    assert_int_equal(err.line, 12);
    assert_int_equal(err.column, 4);
}

static void test_parse_null_arguments(void **state)
{
    struct tp_error err;
    tp_template *t = NULL;
    size_t count = 7;
    (void)state;

    assert_int_equal(tp_template_parse(NULL, &t, &err), TP_ERR_INTERNAL);
    assert_null(t);
    assert_int_equal(tp_template_parse("x", NULL, NULL), TP_ERR_INTERNAL);
    assert_int_equal(tp_template_parse("{{", &t, NULL), TP_ERR_INVALID); /* err optional */
    assert_null(tp_template_parts(NULL, &count));
    assert_int_equal(count, 0);
    tp_template_free(NULL);
}

static char *repeat(const char *unit, size_t total)
{
    size_t n = strlen(unit), i;
    char *s = malloc(total + 1);
    assert_non_null(s);
    for (i = 0; i < total; i++)
        s[i] = unit[i % n];
    s[total] = '\0';
    return s;
}

#define MB ((size_t)1 << 20)

static void test_parse_hostile_large(void **state)
{
    /* clang-format off */
    static const struct {
        const char *unit;
        tp_err rc;
        int column;
    } cases[] = {
        {"{{{{", TP_ERR_INVALID, 1},
        {"{", TP_ERR_INVALID, 1},
        {"}}}}", TP_OK, 0},
        {"xy{{ab}}", TP_OK, 0},
        {"{{ a  }}", TP_OK, 0},
        {"}{", TP_OK, 0},
    };
    /* clang-format on */
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(cases); i++) {
        char *src = repeat(cases[i].unit, MB);
        struct tp_error err;
        tp_template *t = NULL;

        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(src, &t, &err), cases[i].rc);
        if (cases[i].rc == TP_OK) {
            struct fake_env f = default_fake();
            struct tp_template_env env = env_for(&f);
            char *out = NULL;
            f.anything_defined = 1;
            assert_non_null(t);
            assert_int_equal(tp_template_expand(t, &env, TP_ESC_JSON, &out, &err), TP_OK);
            free(out);
        } else {
            assert_null(t);
            assert_int_equal(err.column, cases[i].column);
        }
        tp_template_free(t);
        free(src);
    }
}

/* 1 MB of valid placeholders with an unterminated "{{" at the very end, and
 * 1 MB of arbitrary NUL-free bytes. */
static void test_parse_hostile_tail_and_noise(void **state)
{
    char *src = repeat("{{a}}xyz", MB);
    uint64_t seed = 12345;
    struct tp_error err;
    tp_template *t = NULL;
    tp_err rc;
    size_t i;
    (void)state;

    memcpy(src + MB - 2, "{{", 2);
    tp_error_clear(&err);
    assert_int_equal(tp_template_parse(src, &t, &err), TP_ERR_INVALID);
    assert_null(t);
    assert_int_equal(err.column, (int)(MB - 1));
    assert_non_null(strstr(err.text, "unterminated"));

    for (i = 0; i < MB; i++) {
        seed = seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        src[i] = (char)(1 + (seed >> 33) % 255);
    }
    rc = tp_template_parse(src, &t, &err);
    assert_true(rc == TP_OK || rc == TP_ERR_INVALID);
    tp_template_free(t);
    free(src);
}

/* Arbitrary NUL-free bytes, weighted towards the ones the grammar cares about:
 * every result is OK or INVALID and an OK template always expands. */
static void test_parse_hostile_random(void **state)
{
    static const char interesting[] = "{{}} \t.-_aZ9e$\x80";
    uint64_t seed = UINT64_C(88172645463325252);
    char buf[300];
    size_t iter, i;
    (void)state;

    for (iter = 0; iter < 20000; iter++) {
        size_t n;
        struct tp_error err;
        tp_template *t = NULL;
        tp_err rc;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        n = (size_t)(seed % (sizeof buf - 1));
        for (i = 0; i < n; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if (seed % 4)
                buf[i] = interesting[(seed >> 8) % (sizeof interesting - 1)];
            else
                buf[i] = (char)(1 + (seed >> 8) % 255);
        }
        buf[n] = '\0';
        tp_error_clear(&err);
        rc = tp_template_parse(buf, &t, &err);
        assert_true(rc == TP_OK || rc == TP_ERR_INVALID);
        if (rc == TP_OK) {
            struct fake_env f = default_fake();
            struct tp_template_env env = env_for(&f);
            char *out = NULL;
            f.anything_defined = 1;
            assert_int_equal(tp_template_expand(t, &env, TP_ESC_URL, &out, &err), TP_OK);
            free(out);
        } else {
            assert_null(t);
            assert_true(err.column >= 1 && (size_t)err.column <= n);
            assert_true(err.text[0] != '\0');
        }
        tp_template_free(t);
    }
}

/* ---- expansion ---------------------------------------------------------- */

/* clang-format off */
static const struct expand_case {
    const char *src;
    enum tp_tpl_escape esc;
    const char *want;
} expand_cases[] = {
    {"", TP_ESC_NONE, ""},
    {"plain", TP_ESC_NONE, "plain"},
    {"{{sku}}", TP_ESC_NONE, "A-100"},
    {"sku={{ sku }}&u={{env.SHOP_USER}}", TP_ESC_NONE, "sku=A-100&u=shopper"},
    {"[{{empty}}]", TP_ESC_NONE, "[]"},
    {"{{now_ms}}", TP_ESC_NONE, "1700000000123"},
    /* 0x0011223344556677 >> 33 */
    {"{{random_int}}", TP_ESC_NONE, "561433"},
    {"{{quote}}", TP_ESC_NONE, "say \"hi\""},
    /* JSON: only the substituted value is escaped, never the literal text */
    {"{\"q\":\"{{quote}}\"}", TP_ESC_JSON, "{\"q\":\"say \\\"hi\\\"\"}"},
    {"{{env.HOME}}", TP_ESC_JSON, "/home/ann"},
    /* URL: reserved characters of the literal text are kept */
    {"/a b?u={{env.HOME}}&s={{sku}}", TP_ESC_URL, "/a b?u=%2Fhome%2Fann&s=A-100"},
    {"{{quote}}", TP_ESC_URL, "say%20%22hi%22"},
    {"{{uuid}}", TP_ESC_URL, "00112233-4455-4677-8899-aabbccddeeff"},
};
/* clang-format on */

static void test_expand_cases(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(expand_cases); i++) {
        struct fake_env f = default_fake();
        char *out;

        out = expand_with(&f, expand_cases[i].src, expand_cases[i].esc);
        assert_string_equal(out, expand_cases[i].want);
        free(out);
    }
}

/* One value through one escape mode: {{v}} with v defined as value. Which
 * bytes each mode escapes, and how, is tested in test_escape.c. */
/* clang-format off */
static const struct escape_case {
    enum tp_tpl_escape esc;
    const char *value;
    const char *want;
} escape_cases[] = {
    {TP_ESC_NONE, "a\"b\\c\n\x01 %&", "a\"b\\c\n\x01 %&"},
    {TP_ESC_JSON, "a\"b\\c\n\x01 %&", "a\\\"b\\\\c\\n\\u0001 %&"},
    {TP_ESC_URL, "a\"b\\c\n\x01 %&", "a%22b%5Cc%0A%01%20%25%26"},
    {TP_ESC_URL, "caf\xc3\xa9", "caf%C3%A9"},
};
/* clang-format on */

static void test_expand_escapes(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(escape_cases); i++) {
        const char *vars[] = {"v", escape_cases[i].value, NULL};
        struct fake_env f = default_fake();
        char *out;

        f.vars = vars;
        out = expand_with(&f, "{{v}}", escape_cases[i].esc);
        assert_string_equal(out, escape_cases[i].want);
        free(out);
    }
}

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void assert_uuid_v4(const char *u)
{
    size_t i;

    assert_int_equal(strlen(u), 36);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else if (!is_hex_lower(u[i]))
            fail_msg("uuid %s: bad character at %zu", u, i);
    }
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

static void test_expand_uuid(void **state)
{
    static const uint64_t randoms[][2] = {
        {0, 0},
        {UINT64_MAX, UINT64_MAX},
        {UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210)},
        {UINT64_C(0x5555555555555555), UINT64_C(0x2aaaaaaaaaaaaaaa)},
    };
    static const char *const want[] = {
        "00000000-0000-4000-8000-000000000000",
        "ffffffff-ffff-4fff-bfff-ffffffffffff",
        "01234567-89ab-4def-bedc-ba9876543210",
        "55555555-5555-4555-aaaa-aaaaaaaaaaaa",
    };
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(randoms); i++) {
        struct fake_env f = default_fake();
        char *out;

        f.randoms = randoms[i];
        f.nrandoms = 2;
        out = expand_with(&f, "{{uuid}}", TP_ESC_NONE);
        assert_uuid_v4(out);
        assert_string_equal(out, want[i]);
        free(out);
    }
}

/* Each placeholder draws fresh random numbers. */
static void test_expand_draws_each_time(void **state)
{
    static const uint64_t randoms[] = {1, 2, 3, 4, UINT64_MAX, UINT64_C(1) << 33};
    struct fake_env f = default_fake();
    char *out;
    (void)state;

    f.randoms = randoms;
    f.nrandoms = COUNT_OF(randoms);
    out = expand_with(&f, "{{uuid}} {{uuid}} {{random_int}} {{random_int}}", TP_ESC_NONE);
    assert_string_equal(out, "00000000-0000-4001-8000-000000000002 "
                             "00000000-0000-4003-8000-000000000004 "
                             "2147483647 1");
    free(out);
    assert_int_equal(f.next_random, 6);
}

static void test_expand_now_ms_values(void **state)
{
    static const struct {
        int64_t now;
        const char *want;
    } cases[] = {
        {0, "0"},
        {INT64_C(1700000000123), "1700000000123"},
        {INT64_MAX, "9223372036854775807"},
    };
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(cases); i++) {
        struct fake_env f = default_fake();
        char *out;

        f.now = cases[i].now;
        out = expand_with(&f, "{{now_ms}}", TP_ESC_JSON);
        assert_string_equal(out, cases[i].want);
        free(out);
    }
}

/* clang-format off */
static const struct expand_error_case {
    const char *src;
    const char *text;
} expand_error_cases[] = {
    {"{{csrf}}", "undefined variable \"csrf\""},
    {"a{{sku}}b{{ cart_id }}", "undefined variable \"cart_id\""},
    {"{{env.SHOP_PASSWORD}}", "environment variable SHOP_PASSWORD is not set"},
    {"{{ env.X.Y }}", "environment variable X.Y is not set"},
    {"{{sku}}{{missing}}{{env.ALSO_MISSING}}", "undefined variable \"missing\""},
};
/* clang-format on */

static void test_expand_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(expand_error_cases); i++) {
        struct fake_env f = default_fake();
        struct tp_template_env env = env_for(&f);
        struct tp_error err;
        tp_template *t = NULL;
        char *out = (char *)&err; /* must be reset to NULL */

        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(expand_error_cases[i].src, &t, &err), TP_OK);
        assert_int_equal(tp_template_expand(t, &env, TP_ESC_NONE, &out, &err), TP_ERR_INVALID);
        assert_null(out);
        assert_string_equal(err.text, expand_error_cases[i].text);
        tp_template_free(t);
    }
}

static void test_expand_bad_arguments(void **state)
{
    struct fake_env f = default_fake();
    struct tp_template_env env = env_for(&f);
    struct tp_template_env partial = env;
    struct tp_error err;
    tp_template *t = NULL;
    char *out = NULL;
    (void)state;

    tp_error_clear(&err);
    assert_int_equal(tp_template_parse("literal", &t, &err), TP_OK);
    assert_int_equal(tp_template_expand(t, NULL, TP_ESC_NONE, &out, &err), TP_ERR_INTERNAL);
    assert_null(out);
    partial.now_ms = NULL;
    assert_int_equal(tp_template_expand(t, &partial, TP_ESC_NONE, &out, &err), TP_ERR_INTERNAL);
    partial = env;
    partial.lookup_env = NULL;
    assert_int_equal(tp_template_expand(t, &partial, TP_ESC_NONE, &out, &err), TP_ERR_INTERNAL);
    assert_int_equal(tp_template_expand(NULL, &env, TP_ESC_NONE, &out, &err), TP_ERR_INTERNAL);
    assert_int_equal(tp_template_expand(t, &env, (enum tp_tpl_escape)42, &out, &err),
                     TP_ERR_INTERNAL);
    assert_int_equal(tp_template_expand(t, &env, TP_ESC_NONE, NULL, &err), TP_ERR_INTERNAL);
    assert_null(out);
    tp_template_free(t);
}

/* ---- secrets ------------------------------------------------------------ */

/* clang-format off */
static const struct mask_case {
    const char *secrets[5]; /* NULL-terminated */
    const char *text;
    const char *want;
} mask_cases[] = {
    {{"hunter2", NULL}, "password=hunter2", "password=***"},
    {{"hunter2", NULL}, "", ""},
    {{"hunter2", NULL}, "nothing here", "nothing here"},
    {{"hunter2", NULL}, "hunter", "hunter"},
    {{"hunter2", NULL}, "hunter2 x hunter2, hunter2.", "*** x ***, ***."},
    {{"hunter2", NULL}, "hunter2hunter2", "******"},
    {{"s3", "tok", NULL}, "a=s3&b=tok&c=s3", "a=***&b=***&c=***"},
    /* longest first: the shorter secret must not leave the rest showing */
    {{"pass", "password", NULL}, "my password is pass", "my *** is ***"},
    {{"password", "pass", NULL}, "my password is pass", "my *** is ***"},
    {{"word", "password", NULL}, "password", "***"},
    {{"b", "abc", NULL}, "abc b", "*** ***"},
    /* overlapping occurrences become one mask */
    {{"abc", "bcd", NULL}, "xabcdy", "x***y"},
    {{"aa", NULL}, "aaaaa", "***"},
    {{"abcab", NULL}, "abcabcab", "***"},
    {{"", NULL}, "abc", "abc"},
    {{"abc", "abc", NULL}, "abc", "***"},
    /* the JSON-escaped form */
    {{"p\"w\\d", NULL}, "{\"password\":\"p\\\"w\\\\d\"}", "{\"password\":\"***\"}"},
    {{"line\nbreak\x01", NULL}, "{\"s\":\"line\\nbreak\\u0001\"}", "{\"s\":\"***\"}"},
    /* percent-encoded forms: upper, lower, a space as %20 or '+' */
    {{"p w&d", NULL}, "pw=p%20w%26d", "pw=***"},
    {{"p w&d", NULL}, "pw=p+w%26d", "pw=***"},
    {{"p w&d", NULL}, "pw=p%20w%26d&raw=p w&d", "pw=***&raw=***"},
    {{"a/b", NULL}, "/x?t=a%2fb", "/x?t=***"},
    {{"p\xc3\xa4ss", NULL}, "u=p%C3%A4ss j=p\xc3\xa4ss", "u=*** j=***"},
    /* a partial encoding is not a secret */
    {{"p w&d", NULL}, "p w", "p w"},
};
/* clang-format on */

static tp_secrets *secrets_of(const char *const *values)
{
    tp_secrets *s = tp_secrets_create();
    size_t i;

    assert_non_null(s);
    for (i = 0; values[i]; i++)
        assert_int_equal(tp_secrets_add(s, values[i]), TP_OK);
    return s;
}

static void test_mask_cases(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT_OF(mask_cases); i++) {
        tp_secrets *s = secrets_of(mask_cases[i].secrets);
        char *out;

        out = tp_secrets_mask(s, mask_cases[i].text);
        assert_non_null(out);
        assert_string_equal(out, mask_cases[i].want);
        free(out);
        tp_secrets_free(s);
    }
}

static void test_mask_null_and_empty_sets(void **state)
{
    tp_secrets *s = tp_secrets_create();
    char *out;
    (void)state;

    out = tp_secrets_mask(NULL, "hunter2");
    assert_string_equal(out, "hunter2");
    free(out);
    out = tp_secrets_mask(NULL, "");
    assert_string_equal(out, "");
    free(out);
    out = tp_secrets_mask(s, "hunter2");
    assert_string_equal(out, "hunter2");
    free(out);
    assert_null(tp_secrets_mask(s, NULL));
    assert_int_equal(tp_secrets_add(NULL, "x"), TP_ERR_INVALID);
    assert_int_equal(tp_secrets_add(s, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_secrets_add(s, ""), TP_OK);
    out = tp_secrets_mask(s, "");
    assert_string_equal(out, "");
    free(out);
    tp_secrets_free(s);
    tp_secrets_free(NULL);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static size_t count_masks(const char *s)
{
    size_t n = 0;
    for (; *s; s++) /* not strstr: under ASan each call reads the whole rest */
        if (s[0] == '*' && s[1] == '*' && s[2] == '*') {
            n++;
            s += 2;
        }
    return n;
}

/* 1 MB with 100,000 occurrences: a replace-and-shift loop would copy ~50 GB. */
static void test_mask_many_occurrences_1mb(void **state)
{
    static const char *const values[] = {"hunter2", "hunter2hunter2-long", NULL};
    tp_secrets *s = secrets_of(values);
    char *text = repeat("hunter2 x ", MB), *out;
    struct timespec start;
    size_t occurrences = MB / 10;
    (void)state;

    clock_gettime(CLOCK_MONOTONIC, &start);
    out = tp_secrets_mask(s, text);
    assert_non_null(out);
    assert_true(seconds_since(&start) < 2.0);
    assert_int_equal(count_masks(out), occurrences + (MB % 10 >= 7));
    assert_null(strstr(out, "hunter2"));
    assert_int_equal(strlen(out), MB - occurrences * 4 - (MB % 10 >= 7 ? 4 : 0));
    free(out);
    free(text);
    tp_secrets_free(s);
}

/* A long secret against 1 MB of near misses: comparing at every position would
 * be 1 MB x 4 KB; the automaton reads each byte once. */
static void test_mask_near_misses_1mb(void **state)
{
    char *secret = repeat("a", 4096), *text = repeat("a", MB), *out;
    tp_secrets *s = tp_secrets_create();
    struct timespec start;
    (void)state;

    secret[4095] = 'b';
    assert_int_equal(tp_secrets_add(s, secret), TP_OK);
    text[MB - 1] = 'b'; /* one occurrence, at the very end */
    clock_gettime(CLOCK_MONOTONIC, &start);
    out = tp_secrets_mask(s, text);
    assert_non_null(out);
    assert_true(seconds_since(&start) < 2.0);
    assert_int_equal(strlen(out), MB - 4096 + 3);
    assert_string_equal(out + MB - 4096, "***");
    free(out);
    free(secret);
    free(text);
    tp_secrets_free(s);
}

/* Brute force: every occurrence of every secret; occurrences that overlap
 * (not merely touch) become one mask. */
static char *mask_reference(const char *const *secrets, size_t nsecrets, const char *text)
{
    size_t n = strlen(text), i, j, k, o = 0;
    size_t *reach = calloc(n + 1, sizeof *reach); /* reach[i]: end of the longest match at i */
    char *out = malloc(3 * n + 1);

    assert_non_null(reach);
    assert_non_null(out);
    for (i = 0; i < n; i++)
        for (k = 0; k < nsecrets; k++) {
            size_t len = strlen(secrets[k]);
            if (strncmp(text + i, secrets[k], len) == 0 && i + len > reach[i])
                reach[i] = i + len;
        }
    for (i = 0; i < n;) {
        size_t end = reach[i];
        if (!end) {
            out[o++] = text[i++];
            continue;
        }
        for (j = i + 1; j < end; j++)
            if (reach[j] > end)
                end = reach[j];
        memcpy(out + o, "***", 3);
        o += 3;
        i = end;
    }
    out[o] = '\0';
    free(reach);
    return out;
}

static void test_mask_matches_reference(void **state)
{
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
    size_t iter, i, k;
    (void)state;

    for (iter = 0; iter < 3000; iter++) {
        char secrets[4][6], text[48];
        const char *ptrs[4];
        size_t nsecrets, n;
        tp_secrets *s = tp_secrets_create();
        char *got, *want;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        nsecrets = 1 + seed % 4;
        for (k = 0; k < nsecrets; k++) {
            size_t len;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            len = 1 + seed % 5;
            for (i = 0; i < len; i++)
                secrets[k][i] = "abc"[(seed >> (8 + 2 * i)) % 3];
            secrets[k][len] = '\0';
            ptrs[k] = secrets[k];
            assert_int_equal(tp_secrets_add(s, secrets[k]), TP_OK);
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        n = seed % sizeof text;
        for (i = 0; i < n; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text[i] = "abcd"[seed % 4];
        }
        text[n] = '\0';
        got = tp_secrets_mask(s, text);
        want = mask_reference(ptrs, nsecrets, text);
        assert_non_null(got);
        if (strcmp(got, want) != 0)
            fail_msg("text \"%s\" secrets \"%s\" (%zu): got \"%s\" want \"%s\"", text, ptrs[0],
                     nsecrets, got, want);
        free(got);
        free(want);
        tp_secrets_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_keeps_error_location),
        cmocka_unit_test(test_parse_null_arguments),
        cmocka_unit_test(test_parse_hostile_large),
        cmocka_unit_test(test_parse_hostile_tail_and_noise),
        cmocka_unit_test(test_parse_hostile_random),
        cmocka_unit_test(test_expand_cases),
        cmocka_unit_test(test_expand_escapes),
        cmocka_unit_test(test_expand_uuid),
        cmocka_unit_test(test_expand_draws_each_time),
        cmocka_unit_test(test_expand_now_ms_values),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_expand_bad_arguments),
        cmocka_unit_test(test_mask_cases),
        cmocka_unit_test(test_mask_null_and_empty_sets),
        cmocka_unit_test(test_mask_many_occurrences_1mb),
        cmocka_unit_test(test_mask_near_misses_1mb),
        cmocka_unit_test(test_mask_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

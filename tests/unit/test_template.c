/* Unit tests for src/template.c: parsing, and expansion with a fake environment
 * in each escape mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/template.h"

#include "big_input.h"

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
    "sku", "A-100", "user", "ann", "quote", "say \"hi\"", "empty", "",
    TP_TPL_TARGET_VAR, "canary", TP_TPL_LOCATION_VAR, "eu-west-1", "target", "shadowed", NULL,
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
    {"{{target}}/{{ location }}", 3,
     {{TP_TPL_TARGET, NULL}, {TP_TPL_TEXT, "/"}, {TP_TPL_LOCATION, NULL}}},
    {"{{Target}}", 1, {{TP_TPL_VAR, "Target"}}},
    {"{{a|b}}", 1, {{TP_TPL_VAR, "a"}}},
    {"{{ env.HOME | /tmp }}", 1, {{TP_TPL_ENV, "HOME"}}},
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
    {"{{|x}}", 1, "empty placeholder name before \"|\""},
    {"{{ | }}", 1, "empty placeholder name before"},
    {"{{a b|c}}", 4, "unexpected space"},
    {"{{uuid|x}}", 3, "the built-in {{uuid}} takes no default"},
    {"{{ target | t }}", 4, "the built-in {{target}} takes no default"},
    {"{{env.|x}}", 7, "missing environment variable name"},
    {"{{a|b}", 1, "unterminated"},
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
    static const char interesting[] = "{{}} \t.-_aZ9e$|\x80";
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

/* A default is the text after the first '|', whitespace around it dropped; it
 * may hold anything but "}}" ('|' and braces too). */
static void test_parse_defaults(void **state)
{
    /* clang-format off */
    static const struct {
        const char *src;
        const char *name;
        const char *fallback; /* NULL: none */
    } cases[] = {
        {"{{a}}", "a", NULL},
        {"{{a|}}", "a", ""},
        {"{{a|b}}", "a", "b"},
        {"{{ a | two words }}", "a", "two words"},
        {"{{a|x|y}}", "a", "x|y"},
        {"{{a|{x}}}", "a", "{x"},
        {"{{a|.*[\\d]+}}", "a", ".*[\\d]+"},
        {"{{env.HOME|/tmp}}", "HOME", "/tmp"},
    };
    /* clang-format on */
    (void)state;

    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        struct tp_error err;
        tp_template *t = NULL;
        size_t count = 0;
        const struct tp_tpl_part *parts;

        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(cases[i].src, &t, &err), TP_OK);
        parts = tp_template_parts(t, &count);
        assert_true(count >= 1);
        assert_string_equal(parts[0].text, cases[i].name);
        if (cases[i].fallback)
            assert_string_equal(parts[0].fallback, cases[i].fallback);
        else
            assert_null(parts[0].fallback);
        tp_template_free(t);
    }
}

static void test_literal(void **state)
{
    static const char *const texts[] = {"", "plain", "{{not_a_placeholder}}", "a|b}}"};
    (void)state;

    for (size_t i = 0; i < COUNT_OF(texts); i++) {
        struct fake_env f = default_fake();
        struct tp_template_env env = env_for(&f);
        struct tp_error err;
        tp_template *t = NULL;
        char *out = NULL;
        size_t count = 9;

        assert_int_equal(tp_template_literal(texts[i], &t), TP_OK);
        assert_true(tp_template_is_literal(t));
        assert_string_equal(tp_template_source(t), texts[i]);
        tp_template_parts(t, &count);
        assert_int_equal(count, texts[i][0] ? 1 : 0);
        assert_int_equal(tp_template_expand(t, &env, TP_ESC_JSON, &out, &err), TP_OK);
        assert_string_equal(out, texts[i]);
        free(out);
        tp_template_free(t);
    }
}

static void test_builtin_names(void **state)
{
    size_t n = 0;
    const char *const *names = tp_template_builtins(&n);
    (void)state;

    assert_int_equal(n, 5);
    assert_string_equal(names[0], "uuid");
    assert_string_equal(names[3], "target");
    assert_string_equal(names[4], "location");
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
    /* the run's names; a variable called "target" is shadowed like "uuid" */
    {"{{target}}@{{location}}", TP_ESC_NONE, "canary@eu-west-1"},
    /* defaults: used only when the name is undefined, inserted as written */
    {"{{sku|x}}/{{nope|fallback}}/{{env.NOPE|e}}/{{env.HOME|e}}", TP_ESC_NONE,
     "A-100/fallback/e//home/ann"},
    {"[{{nope|}}]", TP_ESC_NONE, "[]"},
    {"{{empty|not used}}", TP_ESC_NONE, ""},
    {"{\"q\":\"{{nope|a\\\"b}}\"}", TP_ESC_JSON, "{\"q\":\"a\\\"b\"}"},
    {"{{quote|x}}", TP_ESC_JSON, "say \\\"hi\\\""},
    /* regex: each ASCII punctuation byte of a value escaped, the literal text kept */
    {"^{{quote}}$", TP_ESC_REGEX, "^say\\ \\\"hi\\\"$"},
    {"^{{nope|a.b}}$", TP_ESC_REGEX, "^a.b$"},
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
    {TP_ESC_REGEX, "a.b*c+(d)[e]{f}|g^h$i?j\\k/l",
     "a\\.b\\*c\\+\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\?j\\\\k\\/l"},
    {TP_ESC_REGEX, "_Az09 caf\xc3\xa9-#\n", "_Az09\\ caf\xc3\xa9\\-\\#\\\n"},
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
    {"{{missing|ok}}{{env.ALSO_MISSING}}", "environment variable ALSO_MISSING is not set"},
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

/* {{target}} and {{location}} come from the run; without it they are errors. */
static void test_expand_builtins_need_the_run(void **state)
{
    const char *vars[] = {"target", "a variable", NULL};
    struct fake_env f = default_fake();
    struct tp_template_env env = env_for(&f);
    struct tp_error err;
    tp_template *t = NULL;
    char *out = NULL;
    (void)state;

    f.vars = vars;
    tp_error_clear(&err);
    assert_int_equal(tp_template_parse("{{target}}", &t, &err), TP_OK);
    assert_int_equal(tp_template_expand(t, &env, TP_ESC_NONE, &out, &err), TP_ERR_INVALID);
    assert_string_equal(err.text, "{{target}} has no value here");
    tp_template_free(t);
    assert_int_equal(tp_template_parse("{{location}}", &t, &err), TP_OK);
    assert_int_equal(tp_template_expand(t, &env, TP_ESC_NONE, &out, &err), TP_ERR_INVALID);
    assert_string_equal(err.text, "{{location}} has no value here");
    assert_null(out);
    tp_template_free(t);
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
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_literal),
        cmocka_unit_test(test_builtin_names),
        cmocka_unit_test(test_expand_builtins_need_the_run),
        cmocka_unit_test(test_expand_cases),
        cmocka_unit_test(test_expand_escapes),
        cmocka_unit_test(test_expand_uuid),
        cmocka_unit_test(test_expand_draws_each_time),
        cmocka_unit_test(test_expand_now_ms_values),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_expand_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

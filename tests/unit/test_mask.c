/* Unit tests for src/mask.c: masking table-driven, null and empty sets, the
 * escaped forms, linear time on 1 MB inputs, a brute-force reference; masking
 * in place, masked JSON copies, short secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/mask.h"

#include "big_input.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

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

/* ---- in place ----------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    char *p = s ? strdup(s) : NULL;
    assert_true(!s || p);
    return p;
}

/* clang-format off */
static const struct inplace_case {
    const char *secret; /* NULL: an empty set */
    int null_set;       /* pass NULL rather than a set */
    const char *text;   /* NULL: *text is NULL */
    const char *want;
    int same_pointer;   /* nothing to do: *text must not be reallocated */
} inplace_cases[] = {
    {"hunter2", 0, "pw=hunter2", "pw=***", 0},
    {"hunter2", 0, "nothing here", "nothing here", 0},
    {"hunter2", 0, "", "", 0},
    {"hunter2", 0, NULL, NULL, 1},
    {NULL, 0, "pw=hunter2", "pw=hunter2", 1},
    {NULL, 1, "pw=hunter2", "pw=hunter2", 1},
};
/* clang-format on */

static void test_mask_inplace(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(inplace_cases); i++) {
        const struct inplace_case *c = &inplace_cases[i];
        tp_secrets *s = tp_secrets_create();
        char *text = dup_or_null(c->text), *before = text;

        assert_non_null(s);
        if (c->secret)
            assert_int_equal(tp_secrets_add(s, c->secret), TP_OK);
        assert_int_equal(tp_secrets_mask_inplace(c->null_set ? NULL : s, &text), TP_OK);
        if (c->want)
            assert_string_equal(text, c->want);
        else
            assert_null(text);
        if (c->same_pointer)
            assert_ptr_equal(text, before);
        free(text);
        tp_secrets_free(s);
    }
    assert_int_equal(tp_secrets_mask_inplace(NULL, NULL), TP_ERR_INVALID);
}

/* ---- JSON ------------------------------------------------------------------ */

/* Input and expected output as JSON text (\u0000 allowed), secrets as bytes. */
/* clang-format off */
static const struct json_case {
    const char *secrets[3]; /* NULL-terminated */
    const char *in;
    const char *want;
} json_cases[] = {
    {{"hunter2", NULL}, "{\"user\":\"alice\",\"password\":\"hunter2\"}",
                        "{\"user\":\"alice\",\"password\":\"***\"}"},
    /* keys, nesting, arrays */
    {{"hunter2", NULL}, "{\"hunter2\":{\"a\":[\"x hunter2 y\",[\"hunter2\"]]}}",
                        "{\"***\":{\"a\":[\"x *** y\",[\"***\"]]}}"},
    /* keys that mask alike: the later one wins */
    {{"hunter2", "s3cr3t!", NULL}, "{\"hunter2\":1,\"s3cr3t!\":2}", "{\"***\":2}"},
    /* the escaped forms, as in text */
    {{"p w&d", NULL}, "[\"q=p%20w%26d\",\"q=p+w%26d\"]", "[\"q=***\",\"q=***\"]"},
    /* numbers and booleans: masked as their compact text */
    {{"2", NULL}, "1234", "\"1***34\""},
    {{"2", NULL}, "[1234,-20,2.5,7]", "[\"1***34\",\"-***0\",\"***.5\",7]"},
    {{"1234", NULL}, "{\"n\":1234,\"m\":12345,\"k\":123}", "{\"n\":\"***\",\"m\":\"***5\",\"k\":123}"},
    {{"ru", NULL}, "[true,false]", "[\"t***e\",false]"},
    {{"al", NULL}, "[true,false]", "[true,\"f***se\"]"},
    {{"ul", NULL}, "[null,\"null\"]", "[null,\"n***l\"]"},
    /* strings with NULs: each piece masked, the NULs kept */
    {{"hunter2", NULL}, "\"hunter2\\u0000x\\u0000hunter2\"", "\"***\\u0000x\\u0000***\""},
    {{"ab", NULL}, "\"a\\u0000b\"", "\"a\\u0000b\""},
    /* a secret that is part of a character: the cut byte becomes U+FFFD */
    {{"\xa9", NULL}, "\"caf\\u00e9\"", "\"caf\\ufffd***\""},
    {{"\xc3", NULL}, "{\"\\u00e9t\\u00e9\":1}", "{\"***\\ufffdt***\\ufffd\":1}"},
    {{"\xe2\x82", NULL}, "\"\\u20ac5\"", "\"***\\ufffd5\""},
    /* whole characters are never cut */
    {{"\xc3\xa9", NULL}, "\"caf\\u00e9s\"", "\"caf***s\""},
    {{"hunter2", NULL}, "[]", "[]"},
    {{"hunter2", NULL}, "{}", "{}"},
};
/* clang-format on */

static json_t *load(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, error.text);
    return v;
}

static void test_mask_json_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(json_cases); i++) {
        tp_secrets *s = secrets_of(json_cases[i].secrets);
        json_t *in = load(json_cases[i].in), *want = load(json_cases[i].want);
        json_t *got = tp_secrets_mask_json(s, in);

        assert_non_null(got);
        if (!json_equal(got, want)) {
            char *shown = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("case %zu %s: got %s want %s", i, json_cases[i].in, shown, json_cases[i].want);
        }
        json_decref(got);
        json_decref(in);
        json_decref(want);
        tp_secrets_free(s);
    }
}

/* A copy: the input is untouched, and changing the copy leaves it alone. */
static void test_mask_json_is_deep_copy(void **state)
{
    static const char *const values[] = {"hunter2", NULL};
    tp_secrets *s = secrets_of(values);
    json_t *in = load("{\"a\":[\"hunter2\",{\"n\":1}],\"b\":2}"), *got;
    (void)state;

    got = tp_secrets_mask_json(s, in);
    assert_non_null(got);
    assert_ptr_not_equal(got, in);
    assert_ptr_not_equal(json_object_get(got, "a"), json_object_get(in, "a"));
    assert_int_equal(
        json_integer_set(json_object_get(json_array_get(json_object_get(got, "a"), 1), "n"), 9), 0);
    assert_int_equal(json_object_set_new(got, "c", json_true()), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(in, "a"), 0)), "hunter2");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(in, "a"), 1), "n")), 1);
    assert_null(json_object_get(in, "c"));
    json_decref(got);
    json_decref(in);
    tp_secrets_free(s);
}

/* No secret: v itself, one more reference. NULL v: NULL. */
static void test_mask_json_nothing_to_mask(void **state)
{
    tp_secrets *empty = tp_secrets_create();
    json_t *v = load("{\"a\":\"hunter2\"}");
    (void)state;

    assert_non_null(empty);
    assert_ptr_equal(tp_secrets_mask_json(empty, v), v);
    assert_ptr_equal(tp_secrets_mask_json(NULL, v), v);
    assert_int_equal(v->refcount, 3);
    json_decref(v);
    json_decref(v);
    json_decref(v);
    assert_null(tp_secrets_mask_json(empty, NULL));
    assert_int_equal(tp_secrets_add(empty, "x"), TP_OK);
    assert_null(tp_secrets_mask_json(empty, NULL));
    tp_secrets_free(empty);
}

/* Keys with NULs (jansson 2.14 keys carry a length) and strings built without
 * a UTF-8 check: masked piece by piece, repaired. */
static void test_mask_json_key_nul_and_unchecked(void **state)
{
    static const char *const values[] = {"hunter2", NULL};
    tp_secrets *s = secrets_of(values);
    json_t *in = json_object(), *got, *v;
    const char *key;
    (void)state;

    assert_non_null(in);
    assert_int_equal(
        json_object_setn_new(in, "k\0hunter2", 9, json_stringn_nocheck("\xff hunter2", 9)), 0);
    got = tp_secrets_mask_json(s, in);
    assert_non_null(got);
    assert_int_equal(json_object_size(got), 1);
    key = json_object_iter_key(json_object_iter(got));
    assert_int_equal(json_object_iter_key_len(json_object_iter(got)), 5);
    assert_memory_equal(key, "k\0***", 5);
    v = json_object_iter_value(json_object_iter(got));
    assert_int_equal(json_string_length(v), 7);
    assert_memory_equal(json_string_value(v), "\xef\xbf\xbd ***", 7);
    json_decref(got);
    json_decref(in);
    tp_secrets_free(s);
}

/* ---- short secrets --------------------------------------------------------- */

/* clang-format off */
static const struct {
    const char *value;
    int want;
} short_cases[] = {
    {NULL, 0}, {"", 0}, {"a", 1}, {"12345", 1}, {"\xc3\xa9\xc3\xa9", 1},
    {"123456", 0}, {"hunter2", 0}, {"a much longer secret value", 0},
};
/* clang-format on */

static void test_short(void **state)
{
    (void)state;
    assert_int_equal(TP_SECRET_MIN_LEN, 6);
    for (size_t i = 0; i < COUNT_OF(short_cases); i++)
        if (tp_secrets_short(short_cases[i].value) != short_cases[i].want)
            fail_msg("\"%s\": want %d", short_cases[i].value ? short_cases[i].value : "(null)",
                     short_cases[i].want);
}

/* Plain base64 with padding, for the test only. */
static void b64(const char *in, char *out)
{
    static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = d[v >> 18 & 63];
        out[o++] = d[v >> 12 & 63];
        out[o++] = i + 1 < n ? d[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? d[v & 63] : '=';
    }
    out[o] = '\0';
}

/* A Basic header carries base64("user:" SECRET): masked at every alignment of
 * the secret in the encoded text; a short secret adds no base64 form. */
static void test_mask_base64_forms(void **state)
{
    static const char *const users[] = {"", "a", "ab", "abc", "alice", "bob-the-builder"};
    tp_secrets *s = tp_secrets_create();
    (void)state;
    assert_int_equal(tp_secrets_add(s, "s3cr3t-Pa55"), TP_OK);
    for (size_t i = 0; i < COUNT_OF(users); i++) {
        char plain[64], enc[128], header[160], *m;
        snprintf(plain, sizeof plain, "%s:s3cr3t-Pa55", users[i]);
        b64(plain, enc);
        snprintf(header, sizeof header, "Authorization: Basic %s", enc);
        m = tp_secrets_mask(s, header);
        assert_non_null(m);
        if (!strstr(m, "***") || strstr(m, enc))
            fail_msg("user \"%s\": %s not masked: %s", users[i], enc, m);
        free(m);
    }
    tp_secrets_free(s);
    /* "ab": its base64 would be 2 stable characters at most: nothing added */
    s = tp_secrets_create();
    assert_int_equal(tp_secrets_add(s, "ab"), TP_OK);
    {
        char *m = tp_secrets_mask(s, "QUJDREVG YWJj");
        assert_string_equal(m, "QUJDREVG YWJj");
        free(m);
    }
    tp_secrets_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_cases),
        cmocka_unit_test(test_mask_null_and_empty_sets),
        cmocka_unit_test(test_mask_many_occurrences_1mb),
        cmocka_unit_test(test_mask_near_misses_1mb),
        cmocka_unit_test(test_mask_matches_reference),
        cmocka_unit_test(test_mask_inplace),
        cmocka_unit_test(test_mask_json_cases),
        cmocka_unit_test(test_mask_json_is_deep_copy),
        cmocka_unit_test(test_mask_json_nothing_to_mask),
        cmocka_unit_test(test_mask_json_key_nul_and_unchecked),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_mask_base64_forms),
    };
    return cmocka_run_group_tests_name("mask", tests, NULL, NULL);
}

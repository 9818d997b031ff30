/* Unit tests for src/load.c and the loaders behind it under memory pressure: a
 * journey or probe file whose Nth allocation fails either loads anyway or fails
 * with the list flagged nomem (exit 3), never with a problem blamed on the file.
 * Exceptions: jansson's allocations never fail here (its 2.14 lexer asserts or
 * corrupts memory when one does), and a library that reports its own failed
 * allocation as bad input cannot be told apart from bad input (library_blamed).
 * The failing allocator replaces glibc's malloc family in this test binary; on
 * other C libraries and under sanitizers the tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "twinprobe/load.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                     \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

#if defined(__GLIBC__) && !defined(SANITIZED)
#define FAILING_ALLOCATOR 1

/* ---- a failing allocator --------------------------------------------------- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static long allocs_before_failure = -1; /* -1: disarmed */
static long allocs_seen;                /* while armed */
static int failed;                      /* the armed failure happened */

/* Counts an allocation; 1 for the one that is to fail (only that one). */
static int fail_this(void)
{
    if (allocs_before_failure < 0)
        return 0;
    allocs_seen++;
    if (allocs_before_failure-- > 0)
        return 0;
    failed = 1;
    return 1;
}

void *malloc(size_t n)
{
    return fail_this() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return fail_this() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return fail_this() ? NULL : __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

static void *jansson_malloc(size_t n)
{
    return __libc_malloc(n);
}

static void jansson_free(void *p)
{
    __libc_free(p);
}
#endif

/* ---- the files --------------------------------------------------------------- */

static const char *const journey_files[] = {
    "journeys/checkout.json",
    "journeys/search-cart.json",
    "journeys/signin.json",
    "tests/fuzz/corpus/journey/upload-kitchen-sink.json", /* every key a journey takes */
};

static const char *const probe_files[] = {
    "probes/eu-west-1.json",
    "probes/us-east-1.json",
    "tests/fuzz/corpus/probe/unix-redis.json",
};

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", TP_SOURCE_DIR, rel);
}

/* The files load without pressure: the baseline for the tests below. */
static void test_files_load(void **state)
{
    char path[1024];
    (void)state;
    for (size_t i = 0; i < COUNT_OF(journey_files); i++) {
        struct tp_diags d = {0};
        path_of(path, sizeof path, journey_files[i]);
        struct tp_journey *j = tp_load_journey_file(path, &d);
        assert_non_null(j);
        assert_int_equal(tp_diags_total(&d), 0);
        tp_journey_free(j);
        tp_diags_clear(&d);
    }
    for (size_t i = 0; i < COUNT_OF(probe_files); i++) {
        struct tp_diags d = {0};
        path_of(path, sizeof path, probe_files[i]);
        struct tp_probe *p = tp_load_probe_file(path, &d);
        assert_non_null(p);
        assert_int_equal(tp_diags_total(&d), 0);
        tp_probe_free(p);
        tp_diags_clear(&d);
    }
}

/* nomem is what tp_diags_nomem sets, with a problem that says so. */
static void test_diags_nomem(void **state)
{
    struct tp_diags d = {0};
    (void)state;
    tp_diags_addf(&d, "j.json", "steps[0]", "a problem of the file");
    assert_int_equal(d.nomem, 0);
    tp_diags_nomem(&d, "j.json", "steps[1]");
    assert_int_equal(d.nomem, 1);
    assert_int_equal(tp_diags_total(&d), 2);
    assert_string_equal(d.items[1].file, "j.json");
    assert_string_equal(d.items[1].path, "steps[1]");
    assert_string_equal(d.items[1].text, "out of memory");
    tp_diags_clear(&d);
    assert_int_equal(d.nomem, 0);
}

#ifdef FAILING_ALLOCATOR
/* 1 when the one problem in d is a library's word for its own failed allocation:
 * libcurl 7.88's URL parser says "bad login part", so the URL "does not parse". */
static int library_blamed(const struct tp_diags *d)
{
    static const char *const prefixes[] = {
        "Redis URL does not parse: ",
        "base_url \"",
    };
    if (d->count != 1)
        return 0;
    for (size_t i = 0; i < COUNT_OF(prefixes); i++)
        if (strncmp(d->items[0].text, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* Loads path with allocation n failing, for n = 0, 1, ... until a load makes no
 * more allocations than that. A load that fails must have flagged nomem. */
static void under_pressure(const char *rel, int probe)
{
    char path[1024];
    long n;

    path_of(path, sizeof path, rel);
    for (n = 0;; n++) {
        struct tp_diags d = {0};
        void *loaded;
        int ok;

        failed = 0;
        allocs_seen = 0;
        allocs_before_failure = n;
        loaded = probe ? (void *)tp_load_probe_file(path, &d)
                       : (void *)tp_load_journey_file(path, &d);
        allocs_before_failure = -1;
        ok = loaded || d.nomem || library_blamed(&d);
        if (!ok) {
            print_message("%s: allocation %ld failed and the file was blamed:\n", rel, n);
            for (size_t i = 0; i < d.count; i++)
                print_message("  %s: %s\n", d.items[i].path, d.items[i].text);
        }
        if (probe)
            tp_probe_free(loaded);
        else
            tp_journey_free(loaded);
        tp_diags_clear(&d);
        if (allocs_seen == 0)
            skip(); /* another allocator took over (valgrind, a preload) */
        assert_true(ok);
        if (!failed)
            break;
    }
    assert_true(n > 10); /* the loader did allocate */
}
#endif

static void test_journeys_under_pressure(void **state)
{
    (void)state;
#ifdef FAILING_ALLOCATOR
    for (size_t i = 0; i < COUNT_OF(journey_files); i++)
        under_pressure(journey_files[i], 0);
#else
    skip();
#endif
}

static void test_probes_under_pressure(void **state)
{
    (void)state;
#ifdef FAILING_ALLOCATOR
    for (size_t i = 0; i < COUNT_OF(probe_files); i++)
        under_pressure(probe_files[i], 1);
#else
    skip();
#endif
}

int main(void)
{
#ifdef FAILING_ALLOCATOR
    json_set_alloc_funcs(jansson_malloc, jansson_free);
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_load),
        cmocka_unit_test(test_diags_nomem),
        cmocka_unit_test(test_journeys_under_pressure),
        cmocka_unit_test(test_probes_under_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

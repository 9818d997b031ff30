/* libFuzzer harness: arbitrary bytes as two JSON bodies (split at the first NUL,
 * else in the middle) -> tp_diff_resolve of compare.ignore-like queries on each
 * side, tp_diff_json with the resolved skip set, and tp_diff_text of the two
 * raw bodies. Checks the diff's bounds (diff.h) and the hash-indexed path sets.
 * Run: make fuzz, or build/fuzz/fuzz_diff_json CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ignores[] = {"$[*].ts", "$..id", "$.a[?@.x > 1]"};
#define NIGNORES (sizeof ignores / sizeof ignores[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_jsonpath *queries[NIGNORES];
    static int ready;
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t na = nul ? (size_t)(nul - s) : size / 2, off = nul ? na + 1 : na;
    struct tp_pathset skip = {0};
    struct tp_mismatches out = {0};
    json_t *a, *b;

    if (!ready) {
        for (size_t i = 0; i < NIGNORES; i++)
            if (tp_jsonpath_compile(ignores[i], &queries[i], NULL) != TP_OK)
                abort();
        ready = 1;
    }
    a = json_loadb(s, na, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    b = json_loadb(s + off, size - off, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (tp_diff_resolve(queries, NIGNORES, a, &skip) == TP_OK &&
        tp_diff_resolve(queries, NIGNORES, b, &skip) == TP_OK)
        tp_diff_json(a, b, &skip, &out);
    for (size_t i = 0; i < out.count; i++)
        if (!out.items[i].path || tp_pathset_covers(&skip, out.items[i].path))
            abort(); /* a reported path is never one the skip set covers */
    tp_mismatches_clear(&out);
    tp_diff_text(s, na, s + off, size - off, &out);
    tp_mismatches_clear(&out);
    tp_pathset_clear(&skip);
    json_decref(a);
    json_decref(b);
    return 0;
}

/* libFuzzer harness: regex captures with the bounds of rematch.h. Arbitrary
 * bytes as a pattern and a subject (split at the first NUL, else the first
 * quarter is the pattern) -> tp_regex_compile and tp_regex_search (group 1,
 * else the match, within the subject), and the I-Regexp of JSONPath's match()
 * and search() on the same. -timeout catches a search the budget does not end.
 * Run: make fuzz, or build/fuzz/fuzz_regex CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/extract.h"
#include "twinprobe/iregexp.h"
#include "twinprobe/rematch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t np = nul ? (size_t)(nul - s) : size / 4, off = nul ? np + 1 : np;
    char *pattern = malloc(np + 1);
    struct tp_regex *re = NULL;
    tp_iregexp *ire = NULL;
    struct tp_error err = {0};
    size_t start = 0, len = 0;
    unsigned long budget = TP_REGEX_BUDGET;

    if (!pattern)
        return 0;
    memcpy(pattern, s, np);
    pattern[np] = '\0';
    if (tp_regex_compile(pattern, &re, &err) == TP_OK) {
        if (tp_regex_search(re, s + off, size - off, &start, &len) == 1 &&
            (start > size - off || len > size - off - start))
            abort(); /* a capture lies within its subject */
        tp_regex_free(re);
    }
    for (int whole = 0; whole < 2; whole++) {
        if (tp_iregexp_compile(s, np, whole, &ire) == TP_OK) {
            tp_iregexp_match(ire, s + off, size - off, &budget);
            tp_iregexp_free(ire);
        }
    }
    free(pattern);
    return 0;
}

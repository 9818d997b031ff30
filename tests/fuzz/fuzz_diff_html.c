/* libFuzzer harness: hostile markup. Arbitrary bytes as two HTML bodies (split
 * at the first NUL, else in the middle) -> tp_diff_step of the two responses
 * (the document diff, or the line diff past its bounds), then XPath sources
 * chosen to be expensive (count(//d//d), descendant chains, predicates) on each
 * body, with the bounds of extract.h. The responses' caches are freed each run.
 * Run: make fuzz, or build/fuzz/fuzz_diff_html CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/diff.h"
#include "twinprobe/extract.h"
#include "twinprobe/response.h"
#include "twinprobe/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const xpaths[] = {
    "count(//d//d)", "//*[@id]//text()", "string(//title)", "count(//*[count(*) > 1]//*)",
    "//a[contains(@href, 'x')]/@href"};
#define NXPATHS (sizeof xpaths / sizeof xpaths[0])

static int fill(struct tp_response *r, const char *s, size_t n)
{
    r->status = 200;
    r->headers = calloc(1, sizeof *r->headers);
    r->body = malloc(n + 1);
    if (!r->headers || !r->body)
        return -1;
    r->nheaders = 1;
    r->headers[0].name = strdup("Content-Type");
    r->headers[0].value = strdup("text/html");
    memcpy(r->body, s, n);
    r->body[n] = '\0';
    r->body_len = n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tp_source srcs[NXPATHS];
    static int ready;
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t na = nul ? (size_t)(nul - s) : size / 2, off = nul ? na + 1 : na;
    struct tp_step_result a, b;
    struct tp_mismatches out = {0};
    struct tp_error err = {0};

    if (!ready) {
        for (size_t i = 0; i < NXPATHS; i++)
            if (tp_source_compile(&srcs[i], TP_SRC_XPATH, xpaths[i], &err) != TP_OK)
                abort();
        ready = 1;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (fill(&a.response, s, na) == 0 && fill(&b.response, s + off, size - off) == 0) {
        tp_diff_step(&a, &b, NULL, NULL, &out);
        for (size_t i = 0; i < NXPATHS; i++) {
            struct tp_value v = {0};
            tp_source_eval(&srcs[i], &a.response, &v, &err);
            tp_value_clear(&v);
        }
    }
    tp_mismatches_clear(&out);
    tp_response_clear(&a.response);
    tp_response_clear(&b.response);
    return 0;
}

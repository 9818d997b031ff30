/* libFuzzer harness: arbitrary bytes as an HTTP response body -> tp_source_eval
 * for a few precompiled XPath, JSONPath and regex sources. The first byte picks
 * the Content-Type (text/html, application/xml, application/json, none), so the
 * libxml2 HTML and XML parsers run with twinprobe's options, and jansson and
 * PCRE2 get the same body. The response's parse caches are freed each run.
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_extract CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/extract.h"
#include "twinprobe/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    enum tp_source_kind kind;
    const char *arg;
} specs[] = {
    {TP_SRC_XPATH, "//input[@name='csrf']/@value"},
    {TP_SRC_XPATH, "count(//*)"},
    {TP_SRC_XPATH, "string(/*[1])"},
    {TP_SRC_JSONPATH, "$..id"},
    {TP_SRC_JSONPATH, "$.items[?@.price > 10].name"},
    {TP_SRC_REGEX, "csrf\"?\\s*[:=]\\s*\"([^\"]*)\""},
    {TP_SRC_REGEX, "(?i)<title>(.*?)</title>"},
    {TP_SRC_BODY, NULL},
};
#define NSOURCES (sizeof specs / sizeof specs[0])

static const char *const media[] = {"text/html; charset=utf-8", "application/xml",
                                    "application/json", NULL};

static void compile_sources(struct tp_source *srcs)
{
    struct tp_error err = {0};
    for (size_t i = 0; i < NSOURCES; i++)
        if (tp_source_compile(&srcs[i], specs[i].kind, specs[i].arg, &err) != TP_OK)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tp_source srcs[NSOURCES];
    static int ready;
    struct tp_response resp = {0};
    struct tp_error err = {0};
    const char *type;

    if (!ready) {
        compile_sources(srcs);
        ready = 1;
    }
    if (size == 0)
        return 0;
    type = media[data[0] % 4];
    data++;
    size--;
    if (type) {
        resp.headers = calloc(1, sizeof *resp.headers);
        if (!resp.headers)
            return 0;
        resp.nheaders = 1;
        resp.headers[0].name = strdup("Content-Type");
        resp.headers[0].value = strdup(type);
    }
    resp.status = 200;
    resp.body = malloc(size + 1);
    if (resp.body) {
        memcpy(resp.body, data, size);
        resp.body[size] = '\0';
        resp.body_len = size;
        for (size_t i = 0; i < NSOURCES; i++) {
            struct tp_value v = {0};
            tp_source_eval(&srcs[i], &resp, &v, &err);
            tp_value_clear(&v);
        }
    }
    tp_response_clear(&resp);
    return 0;
}

/* libFuzzer harness: arbitrary bytes as an RFC 9535 JSONPath query ->
 * tp_jsonpath_compile; a query that compiles is evaluated (with normalized
 * paths) against a small fixed document covering every JSON type.
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_jsonpath CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
    "{\"store\":{\"book\":[{\"title\":\"A\",\"price\":8.95,\"tags\":[\"x\",\"y\"]},"
    "{\"title\":\"B\\u00e9\",\"price\":12,\"isbn\":null},{\"title\":\"\",\"price\":-1e3}],"
    "\"open\":true,\"closed\":false,\"o\":{\"j\":1,\"k\":\"2\",\"a b\":[[],{}]}},"
    "\"n\":0,\"s\":\"'\\\"\\\\\",\"e\":[]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *doc;
    struct tp_error err = {0};
    struct tp_jsonpath_nodes nodes = {0};
    tp_jsonpath *q = NULL;
    char *expr;

    if (!doc && !(doc = json_loads(doc_text, 0, NULL)))
        abort();
    if (!(expr = malloc(size + 1)))
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    if (tp_jsonpath_compile(expr, &q, &err) == TP_OK) {
        tp_jsonpath_eval(q, doc, 1, &nodes);
        tp_jsonpath_nodes_clear(&nodes);
    }
    tp_jsonpath_free(q);
    free(expr);
    return 0;
}

/* libFuzzer harness: arbitrary bytes as a journey file -> tp_journey_load (JSON
 * parsing, schema validation, and compiling every JSONPath, XPath, regex and
 * template inside). The result and the diagnostics are freed, so LeakSanitizer
 * sees any path that forgets to.
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_journey CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>

#include "twinprobe/journey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_diags diags = {0};
    struct tp_journey *j = tp_journey_load("fuzz.json", (const char *)data, size, &diags);

    if (j) {
        const char *names[8];
        tp_journey_env_names(j, names, 8);
    }
    tp_journey_free(j);
    tp_diags_clear(&diags);
    return 0;
}

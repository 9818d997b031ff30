/* libFuzzer harness: arbitrary bytes as a probe file -> tp_probe_load, then
 * tp_probe_parse (which keeps half-built probes, a separate freeing path).
 * Covers targets, Redis URLs and path resolution. Everything is freed.
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_probe CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>

#include "twinprobe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_diags diags = {0};
    struct tp_probe *p;

    p = tp_probe_load("probes/fuzz.json", (const char *)data, size, &diags);
    tp_probe_free(p);
    tp_diags_clear(&diags);

    p = tp_probe_parse("probes/fuzz.json", (const char *)data, size, &diags);
    tp_probe_free(p);
    tp_diags_clear(&diags);
    return 0;
}

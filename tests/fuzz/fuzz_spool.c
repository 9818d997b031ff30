/* libFuzzer harness: arbitrary bytes as one spool line -> tp_spool_decode, and
 * for a line that decodes, tp_spool_encode of the entry, which must decode
 * again to the same key. Spool files are read back after a crash and may be
 * torn or written by someone else (docs/SECURITY.md).
 * Run: make fuzz, or build/fuzz/fuzz_spool CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tp_entry e, again;
    struct tp_error err = {0};
    char *line;

    if (tp_spool_decode((const char *)data, size, &e, &err) != TP_OK)
        return 0;
    line = tp_spool_encode(&e);
    if (line) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (tp_spool_decode(line, n, &again, &err) != TP_OK)
            abort(); /* what the spool writes, it reads back */
        if (strcmp(again.key, e.key) != 0)
            abort();
        tp_entry_clear(&again);
    }
    free(line);
    tp_entry_clear(&e);
    return 0;
}

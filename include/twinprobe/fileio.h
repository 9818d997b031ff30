/* Reading whole input files with a size limit (journeys, probes). */
#ifndef TWINPROBE_FILEIO_H
#define TWINPROBE_FILEIO_H

#include <stddef.h>

#include "twinprobe/error.h"

/* Reads path into *out (new, NUL-terminated, free()) and *len. A file over max
 * bytes is TP_ERR_LIMIT without reading it; a directory, a missing or unreadable
 * file is TP_ERR_IO; err->text says which, in words for a person. */
tp_err tp_file_read(const char *path, size_t max, char **out, size_t *len, struct tp_error *err);

#endif

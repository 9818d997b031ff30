/* Loading journey and probe files from disk: read (with the size limits), then
 * hand the bytes to the pure loaders. Problems go to a diag list with the file. */
#ifndef TWINPROBE_LOAD_H
#define TWINPROBE_LOAD_H

#include "twinprobe/diag.h"
#include "twinprobe/journey.h"
#include "twinprobe/probe.h"

enum tp_file_kind { TP_FILE_JOURNEY, TP_FILE_PROBE };

/* New journey, or NULL with the problems in diags. */
struct tp_journey *tp_load_journey_file(const char *path, struct tp_diags *diags);

/* New probe, or NULL with the problems in diags. Does not load its journeys. */
struct tp_probe *tp_load_probe_file(const char *path, struct tp_diags *diags);

/* Which kind a file is, by content: an object with "targets" or "location" is a
 * probe file; anything else (broken files included) is taken for a journey.
 * bytes and len receive the file (new; free()) so it is read once; on a read error
 * the problem is in diags and *bytes is NULL. */
enum tp_file_kind tp_load_sniff(const char *path, char **bytes, size_t *len,
                                struct tp_diags *diags);

#endif

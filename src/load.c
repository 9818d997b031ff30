/* Journey and probe files from disk. */
#include "twinprobe/load.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "twinprobe/fileio.h"

static char *read_or_report(const char *path, size_t max, size_t *len, struct tp_diags *diags)
{
    struct tp_error e;
    char *bytes;
    tp_err rc;
    tp_error_clear(&e);
    rc = tp_file_read(path, max, &bytes, len, &e);
    if (rc == TP_ERR_NOMEM) {
        tp_diags_nomem(diags, path, NULL);
        return NULL;
    }
    if (rc != TP_OK) {
        snprintf(e.file, sizeof e.file, "%s", path);
        tp_diags_add(diags, &e);
        return NULL;
    }
    return bytes;
}

struct tp_journey *tp_load_journey_file(const char *path, struct tp_diags *diags)
{
    size_t len;
    char *bytes = read_or_report(path, TP_JOURNEY_MAX_BYTES, &len, diags);
    struct tp_journey *j = bytes ? tp_journey_load(path, bytes, len, diags) : NULL;
    free(bytes);
    return j;
}

struct tp_probe *tp_load_probe_file(const char *path, struct tp_diags *diags)
{
    size_t len;
    char *bytes = read_or_report(path, TP_PROBE_MAX_BYTES, &len, diags);
    struct tp_probe *p = bytes ? tp_probe_load(path, bytes, len, diags) : NULL;
    free(bytes);
    return p;
}

enum tp_file_kind tp_load_sniff(const char *path, char **bytes, size_t *len,
                                struct tp_diags *diags)
{
    enum tp_file_kind kind = TP_FILE_JOURNEY;
    json_t *root;
    *bytes = read_or_report(path, TP_JOURNEY_MAX_BYTES, len, diags);
    if (!*bytes)
        return kind;
    root = json_loadb(*bytes, *len, 0, NULL);
    if (json_is_object(root) &&
        (json_object_get(root, "targets") || json_object_get(root, "location")))
        kind = TP_FILE_PROBE;
    json_decref(root);
    return kind;
}

/* twinprobe validate FILE...: check journey and probe files, list every problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "twinprobe/cli.h"
#include "twinprobe/load.h"

/* Files already checked (a journey named by a probe and on the command line is
 * checked once), by device and inode. */
struct seen {
    dev_t dev[256];
    ino_t ino[256];
    size_t count;
};

static int seen_before(struct seen *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    for (size_t i = 0; i < s->count; i++)
        if (s->dev[i] == st.st_dev && s->ino[i] == st.st_ino)
            return 1;
    if (s->count < 256) {
        s->dev[s->count] = st.st_dev;
        s->ino[s->count++] = st.st_ino;
    }
    return 0;
}

struct validate {
    struct tp_diags diags;
    struct seen seen;
    int quiet;
    size_t files, bad_files;
};

static struct tp_journey *check_journey(struct validate *v, const char *path, char *bytes,
                                        size_t len)
{
    size_t before = tp_diags_total(&v->diags);
    struct tp_journey *j = bytes ? tp_journey_load(path, bytes, len, &v->diags)
                                 : tp_load_journey_file(path, &v->diags);
    v->files++;
    tp_cli_print_diags(&v->diags, before);
    if (!j) {
        v->bad_files++;
        return NULL;
    }
    if (!v->quiet)
        printf("%s: ok (journey \"%s\", %zu step%s)\n", path, j->name, j->nsteps,
               j->nsteps == 1 ? "" : "s");
    return j;
}

/* A probe's journeys must exist, load, and have distinct names (they key the
 * Redis streams). ca_files must exist. */
static void check_probe(struct validate *v, const char *path, char *bytes, size_t len)
{
    size_t before = tp_diags_total(&v->diags);
    struct tp_probe *p = tp_probe_parse(path, bytes, len, &v->diags);
    struct stat st;
    char where[64];

    v->files++;
    if (p) {
        for (size_t i = 0; i < p->ntargets; i++) {
            if (p->targets[i].ca_file && stat(p->targets[i].ca_file, &st) != 0) {
                snprintf(where, sizeof where, "targets[%zu].ca_file", i);
                tp_diags_addf(&v->diags, path, where, "CA file \"%s\" does not exist",
                              p->targets[i].ca_file);
            }
        }
        for (size_t i = 0; i < p->njourneys; i++) {
            snprintf(where, sizeof where, "journeys[%zu]", i);
            if (stat(p->journeys[i], &st) != 0 || !S_ISREG(st.st_mode))
                tp_diags_addf(&v->diags, path, where, "journey file \"%s\" does not exist",
                              p->journeys[i]);
        }
    }
    tp_cli_print_diags(&v->diags, before);
    if (!p) {
        v->bad_files++;
        return;
    }
    if (tp_diags_total(&v->diags) != before)
        v->bad_files++;
    else if (!v->quiet)
        printf("%s: ok (probe \"%s\", %zu target%s, %zu journey%s)\n", path, p->location,
               p->ntargets, p->ntargets == 1 ? "" : "s", p->njourneys,
               p->njourneys == 1 ? "" : "s");
    char **names = calloc(p->njourneys + 1, sizeof *names);
    if (!names) {
        before = tp_diags_total(&v->diags);
        tp_diags_nomem(&v->diags, path, "journeys");
        tp_cli_print_diags(&v->diags, before);
    }
    for (size_t i = 0; i < p->njourneys; i++) {
        struct stat jst;
        if (stat(p->journeys[i], &jst) != 0)
            continue; /* reported above */
        struct tp_journey *j = seen_before(&v->seen, p->journeys[i])
                                   ? tp_load_journey_file(p->journeys[i], &v->diags)
                                   : check_journey(v, p->journeys[i], NULL, 0);
        if (!j)
            continue;
        for (size_t k = 0; names && k < i; k++) {
            if (names[k] && strcmp(names[k], j->name) == 0) {
                snprintf(where, sizeof where, "journeys[%zu]", i);
                before = tp_diags_total(&v->diags);
                tp_diags_addf(&v->diags, path, where,
                              "journey name \"%s\" is used by journeys[%zu] too (names key the "
                              "Redis streams)", j->name, k);
                tp_cli_print_diags(&v->diags, before);
                v->bad_files++;
            }
        }
        if (names && !(names[i] = strdup(j->name))) {
            snprintf(where, sizeof where, "journeys[%zu]", i);
            before = tp_diags_total(&v->diags);
            tp_diags_nomem(&v->diags, path, where);
            tp_cli_print_diags(&v->diags, before);
        }
        tp_journey_free(j);
    }
    for (size_t i = 0; names && i < p->njourneys; i++)
        free(names[i]);
    free(names);
    tp_probe_free(p);
}

int tp_cmd_validate(int argc, char **argv)
{
    struct tp_cli_parser parser = {tp_cli_find("validate"), argc, argv, 0, NULL, {0}};
    struct validate *v = calloc(1, sizeof *v);
    const char *arg;
    int c, status = TP_EXIT_OK, first = argc;

    if (!v) {
        fprintf(stderr, "twinprobe validate: out of memory\n");
        return TP_EXIT_RUNTIME;
    }
    while ((c = tp_cli_next(&parser, &arg, &status, &first)) != -1) {
        if (c == TP_CLI_STOP)
            goto done;
        if (c == 'q')
            v->quiet = 1;
    }
    if (first >= argc) {
        status = tp_cli_usage_error(parser.cmd, "name at least one journey or probe file");
        goto done;
    }
    for (int i = first; i < argc; i++) {
        char *bytes;
        size_t len, before = tp_diags_total(&v->diags);
        if (seen_before(&v->seen, argv[i]))
            continue;
        enum tp_file_kind kind = tp_load_sniff(argv[i], &bytes, &len, &v->diags);
        if (!bytes) {
            tp_cli_print_diags(&v->diags, before);
            v->files++;
            v->bad_files++;
            continue;
        }
        if (kind == TP_FILE_PROBE)
            check_probe(v, argv[i], bytes, len);
        else
            tp_journey_free(check_journey(v, argv[i], bytes, len));
        free(bytes);
    }
    if (v->diags.dropped)
        fprintf(stderr, "(%zu more problems not shown)\n", v->diags.dropped);
    if (tp_diags_total(&v->diags) > 0) {
        fprintf(stderr, "%zu problem%s in %zu of %zu file%s\n", tp_diags_total(&v->diags),
                tp_diags_total(&v->diags) == 1 ? "" : "s", v->bad_files, v->files,
                v->files == 1 ? "" : "s");
        status = tp_cli_diags_status(&v->diags);
    }
done:
    tp_cli_parser_done(&parser);
    tp_diags_clear(&v->diags);
    free(v);
    return status;
}

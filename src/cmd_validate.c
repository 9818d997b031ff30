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
    size_t files, bad_files, warned_files;
    struct tp_cli_vars vars; /* --variable names count as defined; values unused */
};

/* A journey from bytes, or read from path when bytes is NULL, with the names of
 * the command line's variables defined. */
static struct tp_journey *load_journey(struct validate *v, const char *path, char *bytes,
                                       size_t len)
{
    struct tp_journey_opts opts = {v->vars.values, 0};
    struct tp_journey *j = NULL;
    char *read = NULL;

    if (!bytes)
        tp_load_sniff(path, &read, &len, &v->diags);
    if (bytes || read)
        j = tp_journey_load_with(path, bytes ? bytes : read, len, &opts, &v->diags);
    free(read);
    return j;
}

/* Prints a file's warnings (from index from on) and counts the file. */
static void print_warnings(struct validate *v, size_t from)
{
    tp_cli_print_warnings(&v->diags, from);
    if (tp_diags_warnings(&v->diags) > from)
        v->warned_files++;
}

static struct tp_journey *check_journey(struct validate *v, const char *path, char *bytes,
                                        size_t len)
{
    size_t before = tp_diags_total(&v->diags), wbefore = tp_diags_warnings(&v->diags);
    struct tp_journey *j = load_journey(v, path, bytes, len);
    v->files++;
    tp_cli_print_diags(&v->diags, before);
    print_warnings(v, wbefore);
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
        struct tp_journey *j;
        if (seen_before(&v->seen, p->journeys[i])) {
            size_t nwarnings = v->diags.nwarnings, wdropped = v->diags.wdropped;
            j = load_journey(v, p->journeys[i], NULL, 0);
            v->diags.nwarnings = nwarnings; /* listed when it was checked */
            v->diags.wdropped = wdropped;
        } else {
            j = check_journey(v, p->journeys[i], NULL, 0);
        }
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

/* "N problems in M of K files", ", W warnings" after it; "W warnings in M of K
 * files" when there are warnings only; nothing when all is well. */
static void print_summary(const struct validate *v)
{
    size_t problems = tp_diags_total(&v->diags), warnings = tp_diags_warnings(&v->diags);
    const char *files = v->files == 1 ? "" : "s";

    if (problems > 0 && warnings > 0)
        fprintf(stderr, "%zu problem%s in %zu of %zu file%s, %zu warning%s\n", problems,
                problems == 1 ? "" : "s", v->bad_files, v->files, files, warnings,
                warnings == 1 ? "" : "s");
    else if (problems > 0)
        fprintf(stderr, "%zu problem%s in %zu of %zu file%s\n", problems,
                problems == 1 ? "" : "s", v->bad_files, v->files, files);
    else if (warnings > 0)
        fprintf(stderr, "%zu warning%s in %zu of %zu file%s\n", warnings,
                warnings == 1 ? "" : "s", v->warned_files, v->files, files);
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
        else if (c == TP_OPT_VARIABLE || c == TP_OPT_VARIABLES_FILE || c == TP_OPT_SECRET)
            if ((status = tp_cli_take_variable(&v->vars, parser.cmd, c, arg)) != TP_EXIT_OK)
                goto done;
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
    if (v->diags.wdropped)
        fprintf(stderr, "(%zu more warnings not shown)\n", v->diags.wdropped);
    print_summary(v);
    if (tp_diags_total(&v->diags) > 0)
        status = tp_cli_diags_status(&v->diags);
done:
    tp_cli_parser_done(&parser);
    tp_cli_vars_clear(&v->vars);
    tp_diags_clear(&v->diags);
    free(v);
    return status;
}

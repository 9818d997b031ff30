/* twinprobe flush --probe FILE: replay the probe's spool to its Redis now. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/cli.h"
#include "twinprobe/load.h"
#include "twinprobe/mask.h"
#include "twinprobe/publish.h"

static void warn_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "twinprobe flush: warning: %s\n", msg);
}

static void debug_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "twinprobe flush: %s\n", msg);
}

/* Exit 0 when the spool is empty afterwards; 3 when Redis was away, refused
 * records (they stay in the spool), the spool failed or its directory was
 * refused as unsafe (nothing read from it); 2 for usage. */
int tp_cmd_flush(int argc, char **argv)
{
    const struct tp_cli_command *cmd = tp_cli_find("flush");
    struct tp_cli_parser p = {cmd, argc, argv, 0, NULL, {0}};
    const char *arg, *probe_file = NULL;
    struct tp_probe *probe = NULL;
    struct tp_publish_setup ps;
    struct tp_publish_summary sum;
    struct tp_diags d = {0};
    struct tp_error err;
    tp_secrets *secrets = NULL;
    int c, first = argc, status = TP_EXIT_OK;

    signal(SIGPIPE, SIG_IGN);
    while ((c = tp_cli_next(&p, &arg, &status, &first)) != -1) {
        if (c == TP_CLI_STOP) {
            tp_cli_parser_done(&p);
            return status;
        }
        if (c == 'p')
            probe_file = arg;
    }
    tp_cli_parser_done(&p);
    if (first < argc)
        return tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
    if (!probe_file)
        return tp_cli_usage_error(cmd, "name the --probe whose spool to send");
    probe = tp_load_probe_file(probe_file, &d);
    tp_cli_print_diags(&d, 0);
    status = tp_cli_diags_status(&d);
    tp_diags_clear(&d);
    if (!probe)
        return status;
    status = TP_EXIT_OK;
    if (!probe->redis.url || !probe->spool_dir) {
        status = tp_cli_usage_error(cmd, "%s: the probe names no %s", probe_file,
                                    !probe->redis.url ? "redis" : "spool_dir");
        goto done;
    }
    if (!(secrets = tp_secrets_create()) ||
        tp_publish_setup(&ps, probe, secrets,
                         (struct tp_spool_log){warn_line,
                                               getenv("TWINPROBE_DEBUG") ? debug_line : NULL,
                                               NULL}) != TP_OK) {
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    tp_error_clear(&err);
    if (tp_publish_deliver(&ps.conf, NULL, &sum, &err) != TP_OK) {
        fprintf(stderr, "twinprobe flush: %s\n", err.text);
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    if (sum.spool_error[0]) {
        fprintf(stderr, "twinprobe flush: %s\n", sum.spool_error);
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    printf("%s: %zu sent to %s, %zu already there, %zu kept in the spool", probe->spool_dir,
           sum.replayed, probe->redis.url, sum.present, sum.kept);
    if (sum.quarantined > sum.foreign)
        printf(", %zu torn line%s quarantined", sum.quarantined - sum.foreign,
               sum.quarantined - sum.foreign == 1 ? "" : "s");
    if (sum.foreign)
        printf(", %zu record%s for keys outside this probe quarantined", sum.foreign,
               sum.foreign == 1 ? "" : "s");
    printf("\n");
    if (!sum.connected || sum.redis_error[0]) {
        fprintf(stderr, "twinprobe flush: %s\n", sum.redis_error);
        status = TP_EXIT_RUNTIME;
    } else if (sum.kept > 0) {
        fprintf(stderr, "twinprobe flush: Redis refused %zu record%s; kept in %s\n", sum.kept,
                sum.kept == 1 ? "" : "s", probe->spool_dir);
        status = TP_EXIT_RUNTIME;
    }
done:
    tp_secrets_free(secrets);
    tp_probe_free(probe);
    return status;
}

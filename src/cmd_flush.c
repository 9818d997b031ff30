/* twinprobe flush --probe FILE: replay the probe's spool to its Redis now. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twinprobe/cli.h"
#include "twinprobe/load.h"
#include "twinprobe/log.h"
#include "twinprobe/mask.h"
#include "twinprobe/publish.h"
#include "twinprobe/spool.h"

static void warn_line(void *ctx, const char *msg)
{
    (void)ctx;
    tp_log(TP_LOG_WARN, "%s", msg);
}

static void debug_line(void *ctx, const char *msg)
{
    (void)ctx;
    tp_log(TP_LOG_INFO, "%s", msg);
}

/* The probe's run lock (spool.h), as `run` takes it: a flush never replays the
 * spool while a run of the probe does. Returns 1 with *fd taken; 0 when it is
 * held (logged; the flush has nothing to do: the run replays the spool) or
 * cannot be taken (logged, *status 3). */
static int take_run_lock(const char *probe_file, const char *dir, int *fd, int *status)
{
    struct tp_run_holder h;
    struct tp_error err;
    char who[96];

    tp_error_clear(&err);
    if (tp_spool_run_lock(dir, fd, &h, &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        *status = TP_EXIT_RUNTIME;
        return 0;
    }
    if (*fd >= 0)
        return 1;
    tp_run_holder_describe(&h, who, sizeof who);
    tp_log(TP_LOG_INFO, "probe %s is running (%s); it replays the spool itself, flush exits",
           probe_file, who);
    *status = TP_EXIT_OK;
    return 0;
}

/* Exit 0 when the spool is empty afterwards (or a run of the probe holds its
 * run lock: that run replays it); 3 when Redis was away, refused
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
    enum tp_log_level level = TP_LOG_INFO;
    int c, first = argc, status = TP_EXIT_OK, lock_fd = -1;

    signal(SIGPIPE, SIG_IGN);
    while ((c = tp_cli_next(&p, &arg, &status, &first)) != -1) {
        if (c == TP_CLI_STOP) {
            tp_cli_parser_done(&p);
            return status;
        }
        if (c == 'p')
            probe_file = arg;
        else if (c == 'q')
            level = TP_LOG_ERROR;
    }
    tp_cli_parser_done(&p);
    tp_log_setup(level, NULL);
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
    if (!take_run_lock(probe_file, probe->spool_dir, &lock_fd, &status))
        goto done;
    if ((secrets = tp_secrets_create()))
        tp_log_setup(level, secrets); /* the Redis password joins it */
    if (!secrets ||
        tp_publish_setup(&ps, probe, secrets,
                         (struct tp_spool_log){warn_line,
                                               getenv("TWINPROBE_DEBUG") ? debug_line : NULL,
                                               NULL}) != TP_OK) {
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    tp_error_clear(&err);
    if (tp_publish_deliver(&ps.conf, NULL, &sum, &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    if (sum.spool_error[0]) {
        tp_log(TP_LOG_ERROR, "%s", sum.spool_error);
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
        tp_log(TP_LOG_ERROR, "%s", sum.redis_error);
        status = TP_EXIT_RUNTIME;
    } else if (sum.kept > 0) {
        tp_log(TP_LOG_ERROR, "Redis refused %zu record%s; kept in %s", sum.kept,
                sum.kept == 1 ? "" : "s", probe->spool_dir);
        status = TP_EXIT_RUNTIME;
    }
done:
    if (lock_fd >= 0)
        close(lock_fd);
    tp_log_setup(level, NULL);
    tp_secrets_free(secrets);
    tp_probe_free(probe);
    return status;
}

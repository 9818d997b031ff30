/* bench/stats/mwu: Kayenta's Mann-Whitney interval through src/stats.c, for
 * bench/stats/run.py (Python here has no scipy). One problem per input line:
 *
 *     NX NY X1 .. XNX Y1 .. YNY
 *
 * x the candidate's samples, y the baseline's (ms). One answer per line:
 *
 *     ESTIMATE LOW HIGH METHOD CONF
 *
 * the Hodges-Lehmann shift of x - y (median of the pairwise differences) and its
 * two-sided interval from tp_stats_mwu_hl. Default: the normal approximation
 * with continuity correction at 0.98, which is what Kayenta's MannWhitney.scala
 * computes (an asymptotic interval, as R's wilcox.test(x, y, conf.int = TRUE,
 * exact = FALSE), whatever the sample size). A line that cannot be computed
 * answers "nan nan nan error MESSAGE".
 *
 * usage: mwu [--conf C] [--method normal|exact|auto] < problems > answers */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/stats.h"

static const char *method_name(enum tp_stats_method m)
{
    switch (m) {
    case TP_STATS_EXACT: return "exact";
    case TP_STATS_NORMAL: return "normal";
    case TP_STATS_NONE: return "none";
    default: return "auto";
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: mwu [--conf C] [--method normal|exact|auto] < problems\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct tp_stats_opts opts = {TP_STATS_NORMAL, true, 0.98, 0};
    char *line = NULL;
    size_t cap = 0;
    double *v = NULL;
    size_t vcap = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc) {
            char *end;
            opts.conf = strtod(argv[++i], &end);
            if (*end || !(opts.conf > 0 && opts.conf < 1))
                return usage();
        } else if (strcmp(argv[i], "--method") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "normal") == 0)
                opts.method = TP_STATS_NORMAL;
            else if (strcmp(m, "exact") == 0)
                opts.method = TP_STATS_EXACT;
            else if (strcmp(m, "auto") == 0)
                opts.method = TP_STATS_AUTO;
            else
                return usage();
        } else {
            return usage();
        }
    }

    while (getline(&line, &cap, stdin) != -1) {
        char *p = line, *end;
        unsigned long nx, ny;
        struct tp_stats_interval out;
        struct tp_error err = {0};
        size_t n;
        int bad = 0;

        errno = 0;
        nx = strtoul(p, &end, 10);
        if (end == p)
            continue; /* blank line */
        p = end;
        ny = strtoul(p, &end, 10);
        if (end == p || errno || nx > 1000000 || ny > 1000000) {
            printf("nan nan nan error bad counts\n");
            fflush(stdout);
            continue;
        }
        p = end;
        n = (size_t)(nx + ny);
        if (n + 1 > vcap) {
            double *nv = realloc(v, (n + 1) * sizeof *v);
            if (!nv) {
                fprintf(stderr, "mwu: out of memory\n");
                return 1;
            }
            v = nv;
            vcap = n + 1;
        }
        for (size_t i = 0; i < n; i++) {
            v[i] = strtod(p, &end);
            if (end == p) {
                bad = 1;
                break;
            }
            p = end;
        }
        if (bad) {
            printf("nan nan nan error expected %zu values\n", n);
        } else if (tp_stats_mwu_hl(v, nx, v + nx, ny, &opts, &out, &err) != TP_OK) {
            printf("nan nan nan error %s\n", err.text);
        } else {
            printf("%.17g %.17g %.17g %s %.17g\n", out.estimate, out.low, out.high,
                   method_name(out.method), out.conf);
        }
        fflush(stdout);
    }
    free(line);
    free(v);
    return 0;
}

/* Probe files: one location's targets, journeys, rounds, Redis and spool settings
 * (DESIGN.md §Probe file). Loaded from bytes and validated; paths inside are
 * resolved against the probe file's directory. No I/O: whether the journey files
 * exist is the caller's check. */
#ifndef TWINPROBE_PROBE_H
#define TWINPROBE_PROBE_H

#include <stddef.h>

#include "twinprobe/diag.h"
#include "twinprobe/journey.h"
#include "twinprobe/redis_url.h"

#define TP_PROBE_MAX_BYTES (1u << 20) /* larger probe files are refused */

struct tp_pair {
    char *name;
    char *value;
};

struct tp_target {
    char *name;
    char *base_url;     /* http:// or https:// */
    char *connect_to;   /* CURLOPT_CONNECT_TO entry "HOST:PORT:ADDR:PORT", or NULL */
    struct tp_pair *headers;
    size_t nheaders;
    struct tp_pair *cookies;
    size_t ncookies;
    char *ca_file;      /* resolved path, or NULL */
    int insecure;       /* TLS verification off: explicit opt-in only */
    struct tp_auth auth; /* basic auth for every request without its own; user NULL: none.
                            Templates, expanded in each journey run (request.h) */
};

/* A Redis Sentinel, host:port as the probe file names it. */
struct tp_redis_sentinel {
    char *host; /* an IPv6 address without its brackets */
    int port;   /* 1 to 65535 */
};

struct tp_redis_conf {
    char *url;             /* as written, or "sentinel://h:p,.../MASTER" for sentinels;
                              NULL when the probe publishes nowhere */
    struct tp_redis_url addr; /* sentinels: kind TCP, user and db only (host from them) */
    struct tp_redis_sentinel *sentinels; /* asked in turn for the master; NULL: use url */
    size_t nsentinels;
    char *master;          /* the master's name at the sentinels (sentinels only) */
    long min_replicas;     /* sentinels: replicas WAIT must confirm; default 1, 0 = no WAIT */
    char *prefix;          /* default "twinprobe" */
    long maxlen;           /* MAXLEN ~ for every stream; default 100000 */
    char *password_env;    /* NULL: no AUTH */
    long connect_timeout_ms;
    long command_timeout_ms;
};

enum tp_pairing { TP_PAIR_SIMULTANEOUS, TP_PAIR_ALTERNATE };

struct tp_probe {
    char *file;
    char *location;
    struct tp_target *targets;
    size_t ntargets;
    size_t baseline;       /* index into targets */
    char **journeys;       /* resolved paths */
    size_t njourneys;
    long rounds;           /* default 1 */
    enum tp_pairing pairing;
    long max_concurrency;  /* concurrent transfers; default 64 */
    long jitter_s;         /* random delay 0..jitter_s s before the first request; default 0 */
    long max_runtime_s;    /* no step starts after this many seconds; 0 (default): no limit */
    struct tp_redis_conf redis;
    char *spool_dir;       /* resolved; NULL = no spool */
    double margin_pct;     /* default 10 */
    double margin_ms;      /* default 5 */
    double pass_score;     /* default 95 */
    double marginal_score; /* default 75 */
};

/* Loads a probe from bytes; file names it in messages and anchors relative paths.
 * Every problem goes to diags; returns a new probe when there were none. */
struct tp_probe *tp_probe_load(const char *file, const char *bytes, size_t len,
                               struct tp_diags *diags);

/* Like tp_probe_load, but returns whatever parsed even when there were problems
 * (NULL only when the bytes are no JSON object), so that a validator can go on to
 * check the journeys. Not for running. */
struct tp_probe *tp_probe_parse(const char *file, const char *bytes, size_t len,
                                struct tp_diags *diags);

void tp_probe_free(struct tp_probe *p); /* NULL is a no-op */

/* path joined to the directory of file, unless path is absolute. New string. */
char *tp_path_relative_to(const char *file, const char *path);

#endif

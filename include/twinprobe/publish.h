/* Publishing to Redis through hiredis 0.14.1 (DESIGN.md §Redis streams): one
 * non-blocking connection (TCP or UNIX socket; AUTH, with an ACL user when the
 * URL names one; SELECT) driven with poll() against a monotonic deadline per
 * command and per batch, commands pipelined, every reply checked against size
 * limits before hiredis parses it, then taken and freed. And a run's delivery:
 * replay the spool, then publish, spooling what Redis did not take. The caller
 * ignores SIGPIPE first (signal(SIGPIPE, SIG_IGN)). */
#ifndef TWINPROBE_PUBLISH_H
#define TWINPROBE_PUBLISH_H

#include <stddef.h>

#include "twinprobe/error.h"
#include "twinprobe/mask.h"
#include "twinprobe/probe.h"
#include "twinprobe/spool.h"
#include "twinprobe/streams.h"

#define TP_REDIS_PIPELINE 4096 /* commands written before their replies are read */
#define TP_REDIS_WARN_MAX 10   /* refusals warned one by one per connection; the rest counted */

/* Deadlines, all on CLOCK_MONOTONIC and for the whole exchange, not per read:
 * connecting (TCP or UNIX connect) gets redis.connect_timeout_ms; AUTH and
 * SELECT each get redis.command_timeout_ms (default 5000); a batch (one
 * tp_redis_send or tp_redis_tops call: every write, every reply, the duplicate
 * look-ups, a reconnect with its AUTH and SELECT) gets TP_REDIS_BATCH_FACTOR
 * times redis.command_timeout_ms (default 10 s). Name resolution (getaddrinfo)
 * is outside them: it is bounded by the resolver's own timeout and attempts. */
#define TP_REDIS_BATCH_FACTOR 2

/* Reply limits, checked on the bytes as they arrive, before hiredis sees them
 * (tp_reply_guard_feed): a reply over either, or with arrays nested deeper, ends
 * the connection as failed. Together they bound what one reply can cost: its
 * bytes twice (hiredis' buffer, then the strings it builds) plus ~100 bytes a
 * value, under 40 MiB. twinprobe's own replies are a few KiB. */
#define TP_REDIS_REPLY_MAX_BYTES (16u << 20) /* one reply's bytes on the wire */
#define TP_REDIS_REPLY_MAX_VALUES 65536      /* one reply's values (strings, numbers, arrays) */
#define TP_REDIS_REPLY_MAX_DEPTH 7           /* arrays open within one another */

/* Where a stream of RESP2 replies stands; zero it with tp_reply_guard_init. */
struct tp_reply_guard {
    int state;               /* at a type byte, in a line, in a bulk string's bytes */
    char type;               /* the current value's type byte: + - : $ * */
    int cr;                  /* the line's last byte was '\r' */
    int negative;            /* the length line started with '-' */
    int digits;              /* digits of the length line so far */
    unsigned long long num;  /* the length so far */
    unsigned long long bulk; /* bytes of the bulk string (and its CRLF) still to come */
    size_t bytes;            /* of the current reply so far, bulk strings counted whole */
    size_t values;           /* of the current reply so far */
    int depth;               /* arrays open */
    unsigned long long left[TP_REDIS_REPLY_MAX_DEPTH]; /* values each open array awaits */
};

void tp_reply_guard_init(struct tp_reply_guard *g);

/* Checks the next len bytes of a stream of RESP2 replies, as they come (any
 * split). TP_OK while every reply stays within the limits above;
 * TP_ERR_LIMIT as soon as one is announced or found over them (a $N or *N too
 * large is refused at its header, before its bytes arrive); TP_ERR_INVALID for
 * bytes that are not RESP2. err->text says which. After an error the stream is
 * lost: init again for a new connection. Pure. */
tp_err tp_reply_guard_feed(struct tp_reply_guard *g, const char *buf, size_t len,
                           struct tp_error *err);

typedef struct tp_redis tp_redis; /* an open, authenticated connection */

struct tp_redis_opts {
    const struct tp_redis_conf *conf; /* borrowed: address, timeouts (must outlive the handle) */
    const char *password;             /* copied; NULL: no AUTH */
    const tp_secrets *secrets;        /* borrowed; masks every message (the password always is) */
    struct tp_spool_log log;          /* warn: what Redis refused (may be NULL) */
};

/* Connects (within the connect deadline), sends AUTH (AUTH user password when
 * the URL names a user, else AUTH password) and SELECT db, each within the
 * command deadline. With conf->sentinels, first asks each sentinel in turn
 * (SENTINEL get-master-addr-by-name, without AUTH; connect and command
 * deadlines) for the master, and takes the first that accepts AUTH and SELECT
 * and answers ROLE as a master; every reconnect asks again (a failover).
 * *out is new (tp_redis_free). Any failure is TP_ERR_IO
 * (TP_ERR_NOMEM) with err->text naming the server and the reason (hiredis's,
 * Redis's, a deadline or a reply limit); never the password. */
tp_err tp_redis_connect(const struct tp_redis_opts *o, tp_redis **out, struct tp_error *err);
void tp_redis_free(tp_redis *r); /* closes; NULL is a no-op */

/* A tp_spool_sink over a tp_redis (ctx), within one batch deadline: sends
 * entries[0..n) pipelined, in chunks of TP_REDIS_PIPELINE commands with two
 * chunks in flight (chunk k+1 is written before the replies of chunk k are
 * read; XADD key MAXLEN ~ N id f v ..., HSET key f v ..., SADD key m ...), and
 * sets outcome[i] for each reply (every reply taken and freed). A run's batch
 * is one round trip. An XADD refused as "equal or smaller than the target
 * stream top item" is looked up (XRANGE key id id, pipelined): PRESENT when
 * there, else REFUSED. When the connection fails part way (a deadline and a
 * reply over the limits count as failures) it reconnects once, if the batch's
 * deadline leaves time (AUTH and SELECT again), and sends what has no answer
 * yet; commands are idempotent, so one that reached Redis before the failure
 * is found PRESENT. A READONLY reply (the server became a replica) counts as
 * a failed connection. With sentinels and conf->min_replicas > 0, the entries
 * STORED or PRESENT count only once WAIT min_replicas (command_timeout_ms / 2,
 * after the batch's deadline, its reply within the command deadline) confirms
 * them; a connection that wrote nothing polls ROLE for the replicas' offsets
 * instead, for as long. When fewer confirm, those entries go back to PENDING
 * and the call fails. Returns TP_OK when every entry has an outcome, else
 * TP_ERR_IO (the rest stay PENDING). */
tp_err tp_redis_send(void *r, const struct tp_entry *entries, size_t n, enum tp_outcome *outcome,
                     struct tp_error *err);

/* Raises tops with the last ID of each stream in keys[0..n) (XREVRANGE key +
 * - COUNT 1, pipelined, within one batch deadline). A key that is missing or
 * holds no stream is left alone. TP_OK, or TP_ERR_IO when the connection fails. */
tp_err tp_redis_tops(tp_redis *r, const char *const *keys, size_t n, struct tp_stream_tops *tops,
                     struct tp_error *err);

struct redisReply;

/* Sends one command (argv[0..argc), lengths lens; borrowed) and takes its reply
 * within the command deadline, every byte through the reply guard. *reply is
 * new (freeReplyObject), a Redis error reply included. TP_OK, or TP_ERR_IO (the
 * connection is then closed; err->text names the server and why) or
 * TP_ERR_NOMEM. */
tp_err tp_redis_command(tp_redis *r, int argc, const char **argv, const size_t *lens,
                        struct redisReply **reply, struct tp_error *err);

/* The password: the value of the environment variable conf->password_env
 * names (borrowed from the environment), or NULL. *missing is 1 when a
 * variable is named but not set (then NULL). */
const char *tp_publish_password(const struct tp_redis_conf *conf, int *missing);

/* A delivery: where to publish and where to spool. */
struct tp_publish_conf {
    const struct tp_redis_conf *redis; /* borrowed; redis->url set (sentinels: their display) */
    const char *password;              /* borrowed; NULL: no AUTH */
    const char *unreachable;           /* non-NULL: do not connect, take Redis as away for
                                          this reason (the password variable is unset) */
    const char *spool_dir;             /* borrowed; NULL: no spool */
    const char *location;              /* borrowed: the probe's; a batch with a runs entry
                                          brings its own (a run's --location) */
    const tp_secrets *secrets;         /* borrowed; masks every message */
    struct tp_spool_log log;           /* warnings and debug lines (may be NULL) */
};

/* The set-up run and flush share: the probe's redis block, its password (read
 * from the variable it names and added to secrets, so every output masks it),
 * the spool and the log. conf.unreachable points into unset: do not copy the
 * struct once set up. */
struct tp_publish_setup {
    struct tp_publish_conf conf;
    char unset[300];
};

/* Fills ps for probe (which must name redis.url). TP_OK, or TP_ERR_NOMEM
 * (adding the password to secrets). */
tp_err tp_publish_setup(struct tp_publish_setup *ps, const struct tp_probe *probe,
                        tp_secrets *secrets, struct tp_spool_log log);

struct tp_publish_summary {
    int connected;         /* Redis answered AUTH/SELECT */
    size_t replayed;       /* spooled records Redis took now */
    size_t present;        /* spooled records already in Redis, dropped */
    size_t published;      /* new entries Redis took */
    size_t spooled;        /* new entries written to the spool */
    size_t lost;           /* new entries neither published nor spooled */
    size_t kept;           /* records the spool holds afterwards (old and new) */
    size_t refused;        /* records Redis answered with an error (kept) */
    size_t quarantined;    /* spool lines moved to quarantine (foreign ones included) */
    size_t foreign;        /* of those, records for keys this probe does not write */
    int spool_refused;     /* the spool directory is not safe: nothing read from it */
    char redis_error[512]; /* why Redis did not take everything, or "" */
    char spool_error[512]; /* why the spool failed, or "" */
};

/* Delivers: opens the spool (when spool_dir), connects, replays the spool in
 * order (only the records of this probe's keys, tp_spool_check, for the
 * location of batch's runs entry, else c->location); then, when the replay
 * left nothing unanswered, gives batch's XADD entries their IDs (above each
 * stream's last ID in Redis and in the spool: tp_streams_assign_ids) and
 * publishes them; every entry Redis did not take goes to the spool. With Redis
 * down the whole batch is spooled. batch may be NULL or empty (flush: replay
 * only). Returns TP_OK when nothing is lost: every entry of batch is in Redis
 * or in the spool (sum->redis_error may still say Redis was away,
 * sum->spool_error that the spool failed while Redis took everything).
 * TP_ERR_IO (or NOMEM) when entries could be neither published nor spooled:
 * err->text gives both reasons; TP_ERR_IO also when the spool directory was
 * refused as unsafe (sum->spool_refused; err->text says why), after the batch
 * went to Redis as far as Redis took it (flush then contacts no one). */
tp_err tp_publish_deliver(const struct tp_publish_conf *c, struct tp_batch *batch,
                          struct tp_publish_summary *sum, struct tp_error *err);

#endif

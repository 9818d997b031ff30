/* What a run publishes to Redis (DESIGN.md §Redis streams, docs/redis-schema.md):
 * the entries of the steps and runs streams, the latest hash and the index set,
 * each with its key, stream ID and field/value pairs. Pure: a run report in,
 * a batch of entries out; publish.c sends them and spool.c keeps them. */
#ifndef TWINPROBE_STREAMS_H
#define TWINPROBE_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/compare.h"
#include "twinprobe/error.h"
#include "twinprobe/result.h"

/* A stream entry ID <ms>-<seq>; ordered by ms, then seq. */
struct tp_stream_id {
    uint64_t ms;
    uint64_t seq;
};

#define TP_STREAM_ID_MAX 48 /* room for "18446744073709551615-18446744073709551615" */

/* Parses "<ms>-<seq>" (both parts plain decimal, no sign, no spaces). 0 on
 * success, -1 when s is not such an ID. */
int tp_stream_id_parse(const char *s, struct tp_stream_id *out);
/* Writes "<ms>-<seq>" into buf (TP_STREAM_ID_MAX bytes). Returns buf. */
char *tp_stream_id_format(struct tp_stream_id id, char *buf);
/* <0, 0, >0 like strcmp. */
int tp_stream_id_cmp(struct tp_stream_id a, struct tp_stream_id b);

/* The last ID known per stream key (from Redis, from the spool, or assigned). */
struct tp_stream_top {
    char *key; /* new */
    struct tp_stream_id id;
};

struct tp_stream_tops {
    struct tp_stream_top *items;
    size_t count;
    size_t cap;
};

/* Raises key's top to id when id is greater (adds the key when unknown).
 * TP_OK or TP_ERR_NOMEM (tops unchanged). */
tp_err tp_stream_tops_raise(struct tp_stream_tops *t, const char *key, struct tp_stream_id id);
/* key's top (borrowed), or NULL when none is known. */
const struct tp_stream_id *tp_stream_tops_get(const struct tp_stream_tops *t, const char *key);
void tp_stream_tops_clear(struct tp_stream_tops *t); /* frees and zeroes; NULL is a no-op */

/* What an entry asks of Redis. */
enum tp_entry_type {
    TP_ENTRY_XADD, /* XADD key MAXLEN ~ maxlen id field value ... */
    TP_ENTRY_HSET, /* HSET key field value ... */
    TP_ENTRY_SADD  /* SADD key member ... (each field's value is a member; name "member") */
};

/* "xadd", "hset", "sadd": the spool's "type". */
const char *tp_entry_type_name(enum tp_entry_type t);
/* The type named name; -1 when unknown. */
int tp_entry_type_from_name(const char *name);

struct tp_entry_field {
    char *name;  /* new */
    char *value; /* new; valid UTF-8, secrets masked */
};

struct tp_entry {
    enum tp_entry_type type;
    char *key;                 /* new */
    char id[TP_STREAM_ID_MAX]; /* XADD: "<ms>-<seq>" once assigned, "" before; else "" */
    int64_t ms;                /* XADD: the time the ID is to carry (ms since the epoch) */
    long maxlen;               /* XADD: MAXLEN ~ maxlen; 0 = no trimming; else 0 */
    struct tp_entry_field *fields;   /* new */
    size_t nfields;
    size_t cap;
};

/* A list of entries, in the order they are to reach Redis. */
struct tp_batch {
    struct tp_entry *items;
    size_t count;
    size_t cap;
};

/* Appends an entry with no fields and returns it (owned by b; valid until the
 * next append), or NULL on no memory. key is copied. */
struct tp_entry *tp_batch_add(struct tp_batch *b, enum tp_entry_type type, const char *key);
/* Appends a copy of name/value to e. TP_OK or TP_ERR_NOMEM. */
tp_err tp_entry_add_field(struct tp_entry *e, const char *name, const char *value);
/* Moves *e to the end of b (e is zeroed: b owns what it held). TP_OK or
 * TP_ERR_NOMEM (e untouched). */
tp_err tp_batch_take(struct tp_batch *b, struct tp_entry *e);
void tp_entry_clear(struct tp_entry *e); /* frees and zeroes; NULL is a no-op */
void tp_batch_clear(struct tp_batch *b); /* frees and zeroes; NULL is a no-op */

/* Where a run's entries go and what they say about the writer. */
struct tp_streams_opts {
    const char *prefix;   /* "twinprobe" */
    const char *location; /* NULL: the report's, else "local" */
    long maxlen;          /* MAXLEN ~ on every XADD */
    const char *version;  /* the runs entries' "version" */
};

/* The field names of a steps and a runs entry, in entry order (static). The
 * latest hash has the runs fields. */
const char *const *tp_streams_step_fields(size_t *count);
const char *const *tp_streams_run_fields(size_t *count);

/* Appends the entries of run r to out, in this order: for each journey, its
 * steps stream entries (round, then candidate, then step), then one runs
 * entry per journey x candidate, one latest hash per journey (the fields of its
 * last runs entry), and one SADD of every stream key to {prefix}:index.
 *
 * plan says where the results are (tp_compare_index; targets[0] the baseline,
 * noise_target left out). With a single target (monitoring) cand and every
 * field that compares are "" and the runs verdict is "PASS" when every round
 * of the journey was ok, else "FAIL". Everything that compares (match, diffs,
 * diff per round; the runs numbers) is rendered from r->comparison, which must
 * hold every journey x candidate of the plan (else TP_ERR_INTERNAL): nothing is
 * diffed or judged here. A number that does not exist is "". XADD entries carry
 * ms (the baseline's journey run started_ms for steps, r->started_ms for runs)
 * and no ID yet: see tp_streams_assign_ids. Values arrive masked (result.h) and
 * are made valid UTF-8. On failure out keeps what was added (safe to clear)
 * and err says why. */
tp_err tp_streams_build(const struct tp_run_report *r, const struct tp_compare_plan *plan,
                        const struct tp_streams_opts *o, struct tp_batch *out,
                        struct tp_error *err);

/* Gives every XADD entry of b without an ID one: <ms>-0 when ms is above the
 * stream's top in tops, else <top ms>-<top seq + 1>, so IDs increase strictly
 * per stream even when the clock steps back; tops is raised as it goes (it ends
 * holding each stream's last ID). Entries that already have an ID only raise
 * tops. TP_OK or TP_ERR_NOMEM. */
tp_err tp_streams_assign_ids(struct tp_batch *b, struct tp_stream_tops *tops, struct tp_error *err);

/* The distinct XADD keys of b, in first-use order, into *keys (new array of
 * borrowed strings; free() it). TP_OK or TP_ERR_NOMEM. */
tp_err tp_streams_keys(const struct tp_batch *b, const char ***keys, size_t *count);

#endif

/* The spool: entries Redis could not take yet, kept on local disk until a later
 * run or `twinprobe flush` replays them, in order, before anything new
 * (DESIGN.md §Redis streams). One append-only file DIR/spool.jsonl, one JSON
 * record per line, fsync'd; replay is a state machine; a torn line, or a record
 * for a key the probe does not write, is moved to DIR/quarantine-<ms>.jsonl,
 * never fatal. DIR must belong to the running user and be writable by it alone;
 * every file in it is opened relative to it, never through a symbolic link. */
#ifndef TWINPROBE_SPOOL_H
#define TWINPROBE_SPOOL_H

#include <stddef.h>

#include "twinprobe/error.h"
#include "twinprobe/streams.h"

#define TP_SPOOL_FILE "spool.jsonl"      /* the spool inside its directory */
#define TP_SPOOL_TMP "spool.jsonl.tmp"   /* the rewrite's temporary file (created O_EXCL) */
#define TP_SPOOL_LOCK "lock"             /* held (fcntl) while a process uses the spool */
#define TP_SPOOL_RUN_LOCK "run.lock"     /* flock'd by a run or flush for its whole life */
#define TP_SPOOL_QUARANTINE_TRIES 100    /* quarantine names tried before giving up */
#define TP_SPOOL_LOCK_WAIT_MS 30000      /* how long open waits for another process */
#define TP_SPOOL_MAX_BYTES (1024u << 20) /* a larger spool file is refused */

/* One record as a line: {"key":K,"id":ID,"type":"xadd"|"hset"|"sadd","maxlen":N,
 * "fields":[[name,value],...]} and "\n". id is "" and maxlen 0 for hset and
 * sadd. New string, or NULL on no memory or a string that is not UTF-8. */
char *tp_spool_encode(const struct tp_entry *e);

/* Parses one line (without its newline; need not be NUL-terminated) into *out
 * (new; clear with tp_entry_clear). TP_ERR_INVALID with err->text saying what
 * is wrong (then *out is zeroed). Accepts "id": null for hset and sadd. */
tp_err tp_spool_decode(const char *line, size_t len, struct tp_entry *out, struct tp_error *err);

/* Which records a replay may send: those of one probe (docs/redis-schema.md). */
struct tp_spool_scope {
    const char *prefix;   /* borrowed: redis.prefix */
    const char *location; /* borrowed: the run's location */
};

/* TP_OK when e is a record the probe of scope writes: an XADD to
 * {prefix}:steps:{location}:{journey} or {prefix}:runs:{location}, an HSET of
 * {prefix}:latest:{location}:{journey}, an SADD to {prefix}:index whose members
 * are such steps or runs keys; {journey} is non-empty without ':' or white space
 * (as a journey name). Anything else is TP_ERR_INVALID with why->text. Pure. */
tp_err tp_spool_check(const struct tp_entry *e, const struct tp_spool_scope *scope,
                      struct tp_error *why);

/* What a sink (Redis) did with an entry. */
enum tp_outcome {
    TP_OUT_PENDING = 0, /* no answer: not sent, or the connection failed first */
    TP_OUT_STORED,      /* Redis took it */
    TP_OUT_PRESENT,     /* refused as not above the stream's top, and found there */
    TP_OUT_REFUSED      /* Redis answered with an error: kept in the spool */
};

/* Sends entries[0..n) in order and sets outcome[i] for every entry it got an
 * answer for. TP_OK only when every entry has an outcome other than PENDING;
 * otherwise an error with err->text (the connection failed). */
typedef tp_err (*tp_spool_sink)(void *ctx, const struct tp_entry *entries, size_t n,
                                enum tp_outcome *outcome, struct tp_error *err);

/* Messages for a person: warn (quarantined lines, refused records) always,
 * debug (state changes) when the caller wants them. Either may be NULL. */
struct tp_spool_log {
    void (*warn)(void *ctx, const char *msg);
    void (*debug)(void *ctx, const char *msg);
    void *ctx;
};

typedef struct tp_spool tp_spool; /* an open, locked spool directory */

/* Opens the spool in dir: creates dir (and missing parents) with mode 0700,
 * checks it, then takes DIR/lock (waits up to TP_SPOOL_LOCK_WAIT_MS for another
 * process). Nothing is read yet. *out is new (tp_spool_close). A directory that
 * is not safe to use is TP_ERR_INVALID, and nothing in it is opened: one owned
 * by another user than the effective one, writable by group or others, reached
 * through a symbolic link that neither that user nor root owns, or holding a
 * lock, spool or temporary file that is a symbolic link, not a regular file,
 * not the user's, hard-linked elsewhere or writable by others. An unusable dir
 * (cannot be created, locked) is TP_ERR_IO. err->text names the directory and
 * says why. log is copied (may be NULL). */
tp_err tp_spool_open(const char *dir, const struct tp_spool_log *log, tp_spool **out,
                     struct tp_error *err);
void tp_spool_close(tp_spool *s); /* unlocks and frees; NULL is a no-op */

/* Who holds a probe's run lock, as the holder wrote it into the file. */
struct tp_run_holder {
    long pid;        /* 0: unknown (the holder has not written it yet) */
    char since[32];  /* UTC, "2026-12-01T03:40:00Z"; "" when unknown */
};

/* One run (or flush) per probe at a time: takes DIR/run.lock with flock
 * (LOCK_EX, never waiting), after the checks tp_spool_open makes of DIR and
 * its files (DIR is created when missing; the file is created 0600, never
 * through a symbolic link). Taken: *fd is its descriptor (new; close it, or
 * exit, to release) and "PID SINCE\n" is written into the file. Held by
 * another: TP_OK with *fd -1 and *holder read from the file. An unsafe DIR or
 * file is TP_ERR_INVALID (nothing opened, nothing created in it); an unusable
 * one TP_ERR_IO; err->text names the directory and says why. Independent of
 * DIR/lock, which guards the spool file itself during replay and append. */
tp_err tp_spool_run_lock(const char *dir, int *fd, struct tp_run_holder *holder,
                         struct tp_error *err);

/* "pid 4242 since 2026-12-01T03:40:00Z" (or words for an unknown holder) into buf. */
void tp_run_holder_describe(const struct tp_run_holder *h, char *buf, size_t size);

/* The directory and the file, borrowed from s. */
const char *tp_spool_dir(const tp_spool *s);
const char *tp_spool_path(const tp_spool *s);

/* Replay, one state per step; tp_replay_next is the only way between them. */
enum tp_replay_state {
    TP_REPLAY_LOAD,    /* read the file; quarantine torn or broken lines, foreign keys */
    TP_REPLAY_SEND,    /* hand every record to the sink, in order */
    TP_REPLAY_REWRITE, /* every record answered: keep the refused ones (atomic rewrite) */
    TP_REPLAY_SAVE,    /* the sink stopped part way: keep what it did not take (atomic) */
    TP_REPLAY_DONE,    /* final: every record answered; the file holds the refused ones */
    TP_REPLAY_STOPPED, /* final: the sink failed; the rest stays in the file for later */
    TP_REPLAY_FAILED   /* final: the spool itself failed (read, write, rename) */
};

enum tp_replay_event {
    TP_REV_OK,        /* the step did what it should (LOAD: records read; SEND: all answered
                         and something taken or quarantined; REWRITE/SAVE: file replaced) */
    TP_REV_EMPTY,     /* LOAD: no records and nothing to quarantine */
    TP_REV_UNCHANGED, /* SEND: all answered, nothing taken, nothing quarantined */
    TP_REV_PARTIAL,   /* SEND: the sink failed (or there is none) after some progress */
    TP_REV_NONE,      /* SEND: the sink failed (or there is none) and nothing changed */
    TP_REV_IO_FAILED  /* a file operation failed */
};

/* The state after ev in state s; an event a state does not expect leads to
 * TP_REPLAY_FAILED. Final states stay where they are. */
enum tp_replay_state tp_replay_next(enum tp_replay_state s, enum tp_replay_event ev);
const char *tp_replay_state_name(enum tp_replay_state s); /* "load", "send", ... */

struct tp_replay {
    enum tp_replay_state state; /* final state */
    size_t records;             /* read from the file */
    size_t stored;              /* taken by the sink */
    size_t present;             /* already in Redis: dropped */
    size_t refused;             /* answered with an error: kept */
    size_t pending;             /* not answered (the sink failed): kept */
    size_t quarantined;         /* lines moved to quarantine (foreign ones included) */
    size_t foreign;             /* of those, records for keys outside the scope */
};

/* Replays the spool: LOAD (a torn or broken line, and a record that
 * tp_spool_check refuses for scope, is quarantined with a warning, never sent:
 * appended to a new file DIR/quarantine-<ms>.jsonl, or quarantine-<ms>-<n>.jsonl
 * when that name is taken, created O_EXCL with mode 0600), SEND (sink NULL: Redis is
 * unreachable, nothing is sent), then REWRITE or SAVE when the file must change, so that it keeps
 * exactly the records without a STORED or PRESENT outcome, in order (temp file,
 * fsync, rename, fsync of the directory). The kept records stay in s for
 * tp_spool_tops and tp_spool_pending. Returns TP_OK in DONE; the sink's error
 * in STOPPED; the file's error in FAILED (res->state says which). */
tp_err tp_spool_replay(tp_spool *s, const struct tp_spool_scope *scope, tp_spool_sink sink,
                       void *ctx, struct tp_replay *res, struct tp_error *err);

/* Raises tops with the IDs of the records the spool keeps (after a replay).
 * TP_OK or TP_ERR_NOMEM. */
tp_err tp_spool_tops(const tp_spool *s, struct tp_stream_tops *tops);

/* Records kept after the replay that got no answer (the sink failed): while
 * there are any, new entries must go to the spool behind them. */
size_t tp_spool_pending(const tp_spool *s);

/* Appends the entries of b whose outcome is PENDING or REFUSED (outcome NULL:
 * all of them) to the file, in order, through one O_APPEND descriptor (file
 * mode 0600), then fsync, and an fsync of the directory when the file is new. *written
 * counts the records appended. A full disk or an unwritable file is TP_ERR_IO
 * with err->text; records already written stay (a torn last one is quarantined
 * by the next replay). */
tp_err tp_spool_append(tp_spool *s, const struct tp_batch *b, const enum tp_outcome *outcome,
                       size_t *written, struct tp_error *err);

#endif

/* Unit tests for src/spool.c, in a temporary directory: the record line format
 * (round trips, every way a line can be wrong), which keys a probe's replay may
 * send (a table), the replay state machine's table, directory and file modes,
 * unsafe directories and files refused before anything is read (another owner,
 * group or world writable, symbolic links, FIFOs, hard links), links planted
 * after the checks never followed, quarantine files never reused, append and
 * replay against a scripted sink (everything taken, a sink that fails part
 * way, no sink, records already present or refused), torn and broken lines and
 * foreign records quarantined, order kept across runs, and a full disk
 * (RLIMIT_FSIZE) reported as an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinprobe/spool.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------ */

struct tmp {
    char dir[64];
    char log[8192]; /* warnings and debug lines, one per line */
};

static void log_line(void *ctx, const char *msg)
{
    struct tmp *t = ctx;
    size_t used = strlen(t->log);
    snprintf(t->log + used, sizeof t->log - used, "%s\n", msg);
}

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    assert_non_null(t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tp-spool-test.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        print_error("could not remove %s\n", t->dir);
    free(t);
    return 0;
}

static char *path_in(const struct tmp *t, const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", t->dir, name);
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    if (f) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static void spit(const char *path, const char *text, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* The scope of every record make_batch writes. */
static const struct tp_spool_scope scope = {"tp", "x"};

/* n XADD records of stream "s" with IDs 100-i and a field "i" = i (from). */
static void make_batch(struct tp_batch *b, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++) {
        struct tp_entry *e = tp_batch_add(b, TP_ENTRY_XADD, "tp:steps:x:j");
        char v[32];
        assert_non_null(e);
        snprintf(e->id, sizeof e->id, "100-%zu", i);
        e->maxlen = 1000;
        snprintf(v, sizeof v, "%zu", i);
        assert_int_equal(tp_entry_add_field(e, "i", v), TP_OK);
        assert_int_equal(tp_entry_add_field(e, "text", "a \"quoted\" caf\xc3\xa9\n line"), TP_OK);
    }
}

static tp_spool *open_spool(struct tmp *t)
{
    struct tp_spool_log log = {log_line, log_line, t};
    struct tp_error err;
    tp_spool *s = NULL;
    tp_error_clear(&err);
    if (tp_spool_open(t->dir, &log, &s, &err) != TP_OK)
        fail_msg("open: %s", err.text);
    return s;
}

static void append(struct tmp *t, size_t from, size_t n)
{
    struct tp_batch b = {0};
    struct tp_error err;
    size_t written;
    tp_spool *s = open_spool(t);
    make_batch(&b, from, n);
    assert_int_equal(tp_spool_append(s, &b, NULL, &written, &err), TP_OK);
    assert_int_equal(written, n);
    tp_batch_clear(&b);
    tp_spool_close(s);
}

/* A sink that answers script[i] for entry i (PENDING: fail there), recording
 * the "i" field of what it saw. */
struct sink {
    const enum tp_outcome *script;
    size_t nscript;
    char seen[512];
    size_t calls;
};

static tp_err scripted(void *ctx, const struct tp_entry *e, size_t n, enum tp_outcome *out,
                       struct tp_error *err)
{
    struct sink *k = ctx;
    k->calls++;
    for (size_t i = 0; i < n; i++) {
        enum tp_outcome o = i < k->nscript ? k->script[i] : TP_OUT_STORED;
        size_t used = strlen(k->seen);
        snprintf(k->seen + used, sizeof k->seen - used, "%s%s", used ? "," : "",
                 e[i].nfields ? e[i].fields[0].value : "?");
        if (o == TP_OUT_PENDING)
            return tp_error_set(err, TP_ERR_IO, "connection lost at %zu", i);
        out[i] = o;
    }
    return TP_OK;
}

/* The "i" fields of the records in the spool file, comma-separated. */
static void file_ids(const struct tmp *t, char *buf, size_t size)
{
    char *text = slurp(path_in(t, TP_SPOOL_FILE)), *line = text;
    buf[0] = '\0';
    while (*line) {
        char *nl = strchr(line, '\n');
        struct tp_entry e;
        struct tp_error err;
        size_t used = strlen(buf);
        assert_non_null(nl);
        assert_int_equal(tp_spool_decode(line, (size_t)(nl - line), &e, &err), TP_OK);
        snprintf(buf + used, size - used, "%s%s", used ? "," : "", e.fields[0].value);
        tp_entry_clear(&e);
        line = nl + 1;
    }
    free(text);
}

/* ---- the line format ------------------------------------------------------------ */

static void test_encode_decode(void **state)
{
    struct tp_batch b = {0};
    struct tp_entry *e;
    (void)state;
    make_batch(&b, 7, 1);
    e = tp_batch_add(&b, TP_ENTRY_HSET, "tp:latest:x:j");
    assert_int_equal(tp_entry_add_field(e, "verdict", "PASS"), TP_OK);
    assert_int_equal(tp_entry_add_field(e, "reason", ""), TP_OK);
    e = tp_batch_add(&b, TP_ENTRY_SADD, "tp:index");
    assert_int_equal(tp_entry_add_field(e, "member", "tp:steps:x:j"), TP_OK);
    assert_int_equal(tp_entry_add_field(e, "member", "tp:runs:x"), TP_OK);
    for (size_t i = 0; i < b.count; i++) {
        char *line = tp_spool_encode(&b.items[i]);
        struct tp_entry back;
        struct tp_error err;
        size_t len;
        assert_non_null(line);
        len = strlen(line);
        assert_true(len > 1 && line[len - 1] == '\n');
        assert_null(memchr(line, '\n', len - 1)); /* one line */
        assert_int_equal(tp_spool_decode(line, len - 1, &back, &err), TP_OK);
        assert_int_equal(back.type, b.items[i].type);
        assert_string_equal(back.key, b.items[i].key);
        assert_string_equal(back.id, b.items[i].id);
        assert_int_equal(back.maxlen, b.items[i].type == TP_ENTRY_XADD ? 1000 : 0);
        assert_int_equal(back.nfields, b.items[i].nfields);
        for (size_t k = 0; k < back.nfields; k++) {
            assert_string_equal(back.fields[k].name, b.items[i].fields[k].name);
            assert_string_equal(back.fields[k].value, b.items[i].fields[k].value);
        }
        tp_entry_clear(&back);
        free(line);
    }
    {
        char *line = tp_spool_encode(&b.items[0]);
        assert_string_equal(
            line, "{\"key\":\"tp:steps:x:j\",\"id\":\"100-7\",\"type\":\"xadd\","
                  "\"maxlen\":1000,\"fields\":[[\"i\",\"7\"],[\"text\",\"a \\\"quoted\\\" "
                  "caf\xc3\xa9\\n line\"]]}\n");
        free(line);
    }
    /* not UTF-8: refused, never a broken line */
    assert_int_equal(tp_entry_add_field(&b.items[0], "bad", "\xff"), TP_OK);
    assert_null(tp_spool_encode(&b.items[0]));
    tp_batch_clear(&b);
}

struct bad_line {
    const char *line;
    const char *why;
};

static const struct bad_line bad_lines[] = {
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]",
     "not JSON"},
    {"[1,2]", "not a JSON object"},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xdel\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]]}",
     "\"type\""},
    {"{\"key\":\"\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]]}",
     "\"key\""},
    {"{\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]]}", "\"key\""},
    {"{\"key\":\"k\",\"id\":\"1\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]]}",
     "\"id\""},
    {"{\"key\":\"k\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",\"b\"]]}", "\"id\""},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"hset\",\"maxlen\":0,\"fields\":[[\"a\",\"b\"]]}",
     "\"id\""},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":-1,\"fields\":[[\"a\",\"b\"]]}",
     "\"maxlen\""},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"fields\":[[\"a\",\"b\"]]}", "\"maxlen\""},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[]}", "\"fields\""},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\"]]}", "pairs"},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\",1]]}",
     "pairs"},
    {"{\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[[\"a\","
     "\"b\\u0000c\"]]}",
     "not JSON"},
    {"{\"key\":\"k\",\"key\":\"k\",\"id\":\"1-0\",\"type\":\"xadd\",\"maxlen\":1,\"fields\":[["
     "\"a\",\"b\"]]}",
     "not JSON"},
    {"", "not JSON"},
};

static void test_decode_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(bad_lines); i++) {
        struct tp_entry e;
        struct tp_error err;
        tp_error_clear(&err);
        if (tp_spool_decode(bad_lines[i].line, strlen(bad_lines[i].line), &e, &err) !=
            TP_ERR_INVALID)
            fail_msg("accepted: %s", bad_lines[i].line);
        if (!strstr(err.text, bad_lines[i].why))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad_lines[i].line, err.text,
                     bad_lines[i].why);
        assert_null(e.key);
        assert_int_equal(e.nfields, 0);
    }
    {
        /* hset with "id": null is fine */
        const char *ok = "{\"key\":\"k\",\"id\":null,\"type\":\"hset\",\"maxlen\":0,"
                         "\"fields\":[[\"a\",\"b\"]]}";
        struct tp_entry e;
        struct tp_error err;
        assert_int_equal(tp_spool_decode(ok, strlen(ok), &e, &err), TP_OK);
        tp_entry_clear(&e);
    }
}

/* ---- the state machine --------------------------------------------------------------- */

struct transition {
    enum tp_replay_state from;
    enum tp_replay_event ev;
    enum tp_replay_state to;
};

static const struct transition transitions[] = {
    {TP_REPLAY_LOAD, TP_REV_OK, TP_REPLAY_SEND},
    {TP_REPLAY_LOAD, TP_REV_EMPTY, TP_REPLAY_DONE},
    {TP_REPLAY_LOAD, TP_REV_IO_FAILED, TP_REPLAY_FAILED},
    {TP_REPLAY_LOAD, TP_REV_PARTIAL, TP_REPLAY_FAILED},
    {TP_REPLAY_SEND, TP_REV_OK, TP_REPLAY_REWRITE},
    {TP_REPLAY_SEND, TP_REV_UNCHANGED, TP_REPLAY_DONE},
    {TP_REPLAY_SEND, TP_REV_PARTIAL, TP_REPLAY_SAVE},
    {TP_REPLAY_SEND, TP_REV_NONE, TP_REPLAY_STOPPED},
    {TP_REPLAY_SEND, TP_REV_EMPTY, TP_REPLAY_FAILED},
    {TP_REPLAY_REWRITE, TP_REV_OK, TP_REPLAY_DONE},
    {TP_REPLAY_REWRITE, TP_REV_IO_FAILED, TP_REPLAY_FAILED},
    {TP_REPLAY_SAVE, TP_REV_OK, TP_REPLAY_STOPPED},
    {TP_REPLAY_SAVE, TP_REV_IO_FAILED, TP_REPLAY_FAILED},
    {TP_REPLAY_DONE, TP_REV_IO_FAILED, TP_REPLAY_DONE},
    {TP_REPLAY_STOPPED, TP_REV_OK, TP_REPLAY_STOPPED},
    {TP_REPLAY_FAILED, TP_REV_OK, TP_REPLAY_FAILED},
    {(enum tp_replay_state)99, TP_REV_OK, TP_REPLAY_FAILED},
    {TP_REPLAY_LOAD, (enum tp_replay_event)99, TP_REPLAY_FAILED},
};

static void test_transitions(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(transitions); i++) {
        enum tp_replay_state got = tp_replay_next(transitions[i].from, transitions[i].ev);
        if (got != transitions[i].to)
            fail_msg("%s + event %d: got %s, want %s", tp_replay_state_name(transitions[i].from),
                     (int)transitions[i].ev, tp_replay_state_name(got),
                     tp_replay_state_name(transitions[i].to));
    }
    assert_string_equal(tp_replay_state_name(TP_REPLAY_SAVE), "save");
    assert_string_equal(tp_replay_state_name((enum tp_replay_state)99), "?");
}

/* ---- directory, append, replay ----------------------------------------------------------- */

static void test_open_creates_private_dirs(void **state)
{
    struct tmp *t = *state;
    struct stat st;
    struct tp_error err;
    tp_spool *s = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/a/b/spool", t->dir);
    assert_int_equal(tp_spool_open(dir, NULL, &s, &err), TP_OK);
    assert_string_equal(tp_spool_dir(s), dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path_in(t, "a"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    tp_spool_close(s);
    tp_spool_close(NULL);
}

static void test_open_unusable_dir(void **state)
{
    struct tmp *t = *state;
    struct tp_error err;
    tp_spool *s = (tp_spool *)1;
    char dir[256];
    spit(path_in(t, "file"), "x", "w");
    snprintf(dir, sizeof dir, "%s/file/spool", t->dir);
    tp_error_clear(&err);
    assert_int_equal(tp_spool_open(dir, NULL, &s, &err), TP_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err.text, dir));
    assert_non_null(strstr(err.text, "Not a directory"));
}

static void test_append_then_replay_all(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_replay res;
    struct tp_error err;
    struct stat st;
    char *text;
    tp_spool *s;

    append(t, 0, 3);
    append(t, 3, 2);
    assert_int_equal(stat(path_in(t, TP_SPOOL_FILE), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = slurp(path_in(t, TP_SPOOL_FILE));
    assert_int_equal(count_lines(text), 5);
    free(text);

    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.state, TP_REPLAY_DONE);
    assert_int_equal(res.records, 5);
    assert_int_equal(res.stored, 5);
    assert_int_equal(res.pending + res.refused + res.quarantined, 0);
    assert_string_equal(k.seen, "0,1,2,3,4"); /* in order */
    assert_int_equal(tp_spool_pending(s), 0);
    tp_spool_close(s);
    assert_int_equal(stat(path_in(t, TP_SPOOL_FILE), &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_non_null(strstr(t->log, "spool replay: load --ok--> send"));
    assert_non_null(strstr(t->log, "spool replay: send --ok--> rewrite"));
    assert_non_null(strstr(t->log, "spool replay: rewrite --ok--> done"));

    /* again: nothing to do, the sink is not called */
    s = open_spool(t);
    k.calls = 0;
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.state, TP_REPLAY_DONE);
    assert_int_equal(res.records, 0);
    assert_int_equal(k.calls, 0);
    tp_spool_close(s);
}

static void test_replay_stops_part_way(void **state)
{
    struct tmp *t = *state;
    static const enum tp_outcome script[] = {TP_OUT_STORED, TP_OUT_PRESENT, TP_OUT_PENDING};
    struct sink k = {script, COUNT_OF(script), "", 0};
    struct tp_stream_tops tops = {0};
    struct tp_replay res;
    struct tp_error err;
    char ids[256];
    tp_spool *s;

    append(t, 0, 5);
    s = open_spool(t);
    tp_error_clear(&err);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_ERR_IO);
    assert_int_equal(res.state, TP_REPLAY_STOPPED);
    assert_string_equal(err.text, "connection lost at 2");
    assert_int_equal(res.stored, 1);
    assert_int_equal(res.present, 1);
    assert_int_equal(res.pending, 3);
    assert_int_equal(tp_spool_pending(s), 3);
    assert_int_equal(tp_spool_tops(s, &tops), TP_OK);
    {
        char buf[TP_STREAM_ID_MAX];
        assert_string_equal(tp_stream_id_format(*tp_stream_tops_get(&tops, "tp:steps:x:j"), buf),
                            "100-4");
    }
    tp_stream_tops_clear(&tops);
    tp_spool_close(s);
    file_ids(t, ids, sizeof ids);
    assert_string_equal(ids, "2,3,4");
    assert_non_null(strstr(t->log, "send --partial--> save"));
    assert_non_null(strstr(t->log, "save --ok--> stopped"));
}

static void test_replay_without_sink_changes_nothing(void **state)
{
    struct tmp *t = *state;
    struct tp_replay res;
    struct tp_error err;
    char *before, *after;
    tp_spool *s;

    append(t, 0, 3);
    before = slurp(path_in(t, TP_SPOOL_FILE));
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, NULL, NULL, &res, &err), TP_ERR_IO);
    assert_int_equal(res.state, TP_REPLAY_STOPPED);
    assert_int_equal(res.pending, 3);
    assert_int_equal(tp_spool_pending(s), 3);
    tp_spool_close(s);
    after = slurp(path_in(t, TP_SPOOL_FILE));
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_refused_records_stay(void **state)
{
    struct tmp *t = *state;
    static const enum tp_outcome script[] = {TP_OUT_PRESENT, TP_OUT_REFUSED, TP_OUT_STORED};
    struct sink k = {script, COUNT_OF(script), "", 0};
    struct tp_replay res;
    struct tp_error err;
    char ids[256];
    tp_spool *s;

    append(t, 0, 3);
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.state, TP_REPLAY_DONE);
    assert_int_equal(res.refused, 1);
    assert_int_equal(tp_spool_pending(s), 0); /* refused ones do not hold new entries back */
    tp_spool_close(s);
    file_ids(t, ids, sizeof ids);
    assert_string_equal(ids, "1");
    assert_non_null(strstr(t->log, "1 record refused by Redis, kept"));
}

static void test_torn_last_line_quarantined(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_replay res;
    struct tp_error err;
    const char *torn = "{\"key\":\"tp:steps:x:j\",\"id\":\"100-9\",\"ty";
    char *q, qname[300] = "";
    tp_spool *s;
    FILE *ls;

    append(t, 0, 2);
    spit(path_in(t, TP_SPOOL_FILE), torn, "a");
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.state, TP_REPLAY_DONE);
    assert_int_equal(res.stored, 2);
    assert_int_equal(res.quarantined, 1);
    assert_string_equal(k.seen, "0,1");
    tp_spool_close(s);
    assert_non_null(strstr(t->log, "line 3 is torn (no newline at the end): moved to"));
    /* the quarantine file holds the torn bytes, as a line */
    {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "ls %s | grep '^quarantine-[0-9]*\\.jsonl$'", t->dir);
        ls = popen(cmd, "r");
        assert_non_null(ls);
        assert_non_null(fgets(qname, sizeof qname, ls));
        pclose(ls);
        qname[strcspn(qname, "\n")] = '\0';
    }
    q = slurp(path_in(t, qname));
    assert_int_equal(strncmp(q, torn, strlen(torn)), 0);
    assert_string_equal(q + strlen(torn), "\n");
    free(q);
    {
        struct stat st;
        assert_int_equal(stat(path_in(t, qname), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(path_in(t, TP_SPOOL_FILE), &st), 0);
        assert_int_equal(st.st_size, 0);
    }
}

static void test_broken_middle_line_and_torn_tail_with_append(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_replay res;
    struct tp_error err;
    tp_spool *s;

    append(t, 0, 1);
    spit(path_in(t, TP_SPOOL_FILE), "garbage\n", "a");
    append(t, 1, 1);
    spit(path_in(t, TP_SPOOL_FILE), "{\"torn", "a");
    append(t, 2, 1); /* adds a newline first: the torn bytes stay a line of their own */
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.quarantined, 2);
    assert_int_equal(res.stored, 3);
    assert_string_equal(k.seen, "0,1,2");
    tp_spool_close(s);
    assert_non_null(strstr(t->log, "line 2 is not JSON"));
    assert_non_null(strstr(t->log, "line 4 is not JSON"));
}

static void test_order_kept_across_runs(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_batch b = {0};
    struct tp_replay res;
    struct tp_error err;
    tp_spool *s;

    append(t, 0, 2);
    /* a run with Redis away: replay stops, the new entries go behind the old */
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, NULL, NULL, &res, &err), TP_ERR_IO);
    make_batch(&b, 2, 2);
    {
        enum tp_outcome out[2] = {TP_OUT_STORED, TP_OUT_PENDING}; /* only the second */
        size_t written;
        assert_int_equal(tp_spool_append(s, &b, out, &written, &err), TP_OK);
        assert_int_equal(written, 1);
    }
    tp_batch_clear(&b);
    tp_spool_close(s);
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_string_equal(k.seen, "0,1,3");
    tp_spool_close(s);
}

static void test_full_disk_is_an_error(void **state)
{
    struct tmp *t = *state;
    struct tp_batch b = {0};
    struct tp_error err;
    struct rlimit old, small;
    void (*prev)(int);
    size_t written = 99;
    tp_spool *s = open_spool(t);
    tp_err rc;

    make_batch(&b, 0, 200); /* ~20 KB */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 4096;
    prev = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    tp_error_clear(&err);
    rc = tp_spool_append(s, &b, NULL, &written, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, TP_ERR_IO);
    assert_non_null(strstr(err.text, "cannot write"));
    assert_non_null(strstr(err.text, TP_SPOOL_FILE));
    assert_true(written < 200);
    tp_batch_clear(&b);
    tp_spool_close(s);
}

/* ---- which records a replay may send ------------------------------------------------ */

struct key_case {
    enum tp_entry_type type;
    const char *key;
    const char *member; /* sadd: the member; NULL: a field "f" = "v" */
    const char *why;    /* NULL: accepted; else a word of the refusal */
};

static const struct key_case key_cases[] = {
    {TP_ENTRY_XADD, "tp:steps:x:checkout", NULL, NULL},
    {TP_ENTRY_XADD, "tp:runs:x", NULL, NULL},
    {TP_ENTRY_HSET, "tp:latest:x:checkout", NULL, NULL},
    {TP_ENTRY_SADD, "tp:index", "tp:steps:x:checkout", NULL},
    {TP_ENTRY_SADD, "tp:index", "tp:runs:x", NULL},
    /* the type must fit the key */
    {TP_ENTRY_HSET, "tp:steps:x:checkout", NULL, "takes xadd"},
    {TP_ENTRY_SADD, "tp:runs:x", NULL, "takes xadd"},
    {TP_ENTRY_XADD, "tp:latest:x:checkout", NULL, "takes hset"},
    {TP_ENTRY_XADD, "tp:index", NULL, "takes sadd"},
    /* another prefix, location or kind of key */
    {TP_ENTRY_XADD, "victim:sessions", NULL, "does not write"},
    {TP_ENTRY_XADD, "tpx:steps:x:checkout", NULL, "does not write"},
    {TP_ENTRY_XADD, "t:steps:x:checkout", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:steps:y:checkout", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:steps:xy:checkout", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:runs:x:extra", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:runs:", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:verdicts", NULL, "does not write"},
    {TP_ENTRY_HSET, "tp:config", NULL, "does not write"},
    {TP_ENTRY_SADD, "tp:index:x", "tp:runs:x", "does not write"},
    {TP_ENTRY_XADD, "/etc/cron.d/twinprobe", NULL, "does not write"},
    {TP_ENTRY_XADD, "../../tp:steps:x:j", NULL, "does not write"},
    /* a journey segment a journey name cannot be */
    {TP_ENTRY_XADD, "tp:steps:x:", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:steps:x:a:b", NULL, "does not write"},
    {TP_ENTRY_XADD, "tp:steps:x:a b", NULL, "does not write"},
    {TP_ENTRY_HSET, "tp:latest:x:a\nb", NULL, "does not write"},
    /* the index holds this probe's streams only */
    {TP_ENTRY_SADD, "tp:index", "tp:latest:x:checkout", "not a steps or runs stream"},
    {TP_ENTRY_SADD, "tp:index", "victim:sessions", "not a steps or runs stream"},
    {TP_ENTRY_SADD, "tp:index", "tp:runs:y", "not a steps or runs stream"},
};

static void test_check_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(key_cases); i++) {
        const struct key_case *c = &key_cases[i];
        struct tp_batch b = {0};
        struct tp_entry *e = tp_batch_add(&b, c->type, c->key);
        struct tp_error why;
        tp_err rc;
        assert_non_null(e);
        if (c->type == TP_ENTRY_SADD) {
            assert_int_equal(tp_entry_add_field(e, "member", c->member ? c->member : "m"), TP_OK);
            assert_int_equal(tp_entry_add_field(e, "member", "tp:runs:x"), TP_OK);
        } else {
            assert_int_equal(tp_entry_add_field(e, "f", "v"), TP_OK);
        }
        tp_error_clear(&why);
        rc = tp_spool_check(e, &scope, &why);
        if (!c->why && rc != TP_OK)
            fail_msg("%s %s refused: %s", tp_entry_type_name(c->type), c->key, why.text);
        if (c->why && (rc != TP_ERR_INVALID || !strstr(why.text, c->why)))
            fail_msg("%s %s: got %d \"%s\", want a refusal with \"%s\"",
                     tp_entry_type_name(c->type), c->key, (int)rc, why.text, c->why);
        tp_batch_clear(&b);
    }
}

/* ---- unsafe directories and files ------------------------------------------------------ */

/* A root-only file the attacks aim at; its content must survive. */
#define TARGET_TEXT "root-only: must stay as it is\n"

static void make_target(const struct tmp *t, char *target, size_t size)
{
    snprintf(target, size, "%s/target", t->dir);
    spit(target, TARGET_TEXT, "w");
    assert_int_equal(chmod(target, 0600), 0);
}

static void assert_target_intact(const char *target)
{
    char *text = slurp(target);
    struct stat st;
    assert_string_equal(text, TARGET_TEXT);
    free(text);
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* Opening dir must fail with TP_ERR_INVALID and a message holding want. */
static void assert_refused(struct tmp *t, const char *dir, const char *want)
{
    struct tp_error err;
    tp_spool *s = (tp_spool *)1;
    tp_error_clear(&err);
    if (tp_spool_open(dir, NULL, &s, &err) != TP_ERR_INVALID)
        fail_msg("%s: not refused (%s); want \"%s\"", dir, err.text, want);
    assert_null(s);
    if (!strstr(err.text, want) || !strstr(err.text, dir) || !strstr(err.text, "refused"))
        fail_msg("message \"%s\" lacks \"%s\" or the directory", err.text, want);
    (void)t;
}

static void test_open_refuses_group_or_world_writable_dirs(void **state)
{
    struct tmp *t = *state;
    static const struct {
        mode_t mode;
        const char *want;
    } modes[] = {
        {0777, "writable by group and others (mode 0777"},
        {01777, "writable by group and others (mode 1777"},
        {0770, "writable by its group (mode 0770"},
        {0702, "writable by others (mode 0702"},
    };
    char dir[256];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/spool", t->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    for (size_t i = 0; i < COUNT_OF(modes); i++) {
        assert_int_equal(chmod(dir, modes[i].mode), 0);
        assert_refused(t, dir, modes[i].want);
        /* nothing was created in it: not even the lock */
        assert_int_equal(lstat(path_in(t, "spool/" TP_SPOOL_LOCK), &st), -1);
    }
    assert_int_equal(chmod(dir, 0755), 0); /* readable by others is fine */
    {
        tp_spool *s = open_spool(t);
        tp_spool_close(s);
    }
}

/* The run lock: taken (0600, "PID SINCE" in it), then held for a second
 * open file description (flock locks are per description, so one process
 * sees its own lock held), released by close; an unsafe directory or lock file
 * is refused and nothing is created in it. */
static void test_run_lock(void **state)
{
    struct tmp *t = *state;
    struct tp_run_holder h;
    struct tp_error err;
    struct stat st;
    char dir[256], want[32], *text;
    int fd = -1, fd2 = -1;

    snprintf(dir, sizeof dir, "%s/spool", t->dir);
    assert_int_equal(tp_spool_run_lock(dir, &fd, &h, &err), TP_OK); /* dir created */
    assert_true(fd >= 0);
    assert_int_equal(stat(path_in(t, "spool/" TP_SPOOL_RUN_LOCK), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = slurp(path_in(t, "spool/" TP_SPOOL_RUN_LOCK));
    snprintf(want, sizeof want, "%ld ", (long)getpid());
    assert_true(strncmp(text, want, strlen(want)) == 0);
    assert_true(text[strlen(text) - 2] == 'Z' && text[strlen(text) - 1] == '\n');
    free(text);

    assert_int_equal(tp_spool_run_lock(dir, &fd2, &h, &err), TP_OK);
    assert_int_equal(fd2, -1); /* held */
    assert_int_equal(h.pid, (long)getpid());
    assert_int_equal(strlen(h.since), 20); /* 2026-12-01T03:40:00Z */
    close(fd);
    assert_int_equal(tp_spool_run_lock(dir, &fd2, &h, &err), TP_OK);
    assert_true(fd2 >= 0); /* released */
    close(fd2);

    assert_int_equal(chmod(dir, 0777), 0);
    tp_error_clear(&err);
    assert_int_equal(tp_spool_run_lock(dir, &fd, &h, &err), TP_ERR_INVALID);
    assert_non_null(strstr(err.text, "writable by group and others"));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(unlink(path_in(t, "spool/" TP_SPOOL_RUN_LOCK)), 0);
    assert_int_equal(symlink("/nonexistent/twinprobe", path_in(t, "spool/" TP_SPOOL_RUN_LOCK)), 0);
    assert_int_equal(tp_spool_run_lock(dir, &fd, &h, &err), TP_ERR_INVALID);
    assert_non_null(strstr(err.text, "run.lock is a symbolic link"));
    assert_int_equal(lstat("/nonexistent/twinprobe", &st), -1); /* not followed */
}

static void test_open_refuses_a_dir_of_another_user(void **state)
{
    struct tmp *t = *state;
    char dir[256], link[256];
    if (geteuid() != 0)
        skip(); /* needs chown */
    snprintf(dir, sizeof dir, "%s/spool", t->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chown(dir, 65534, 65534), 0);
    assert_refused(t, dir, "owned by uid 65534, not by uid 0");
    /* a symbolic link to our own directory, owned by another user */
    assert_int_equal(chown(dir, 0, 0), 0);
    snprintf(link, sizeof link, "%s/link", t->dir);
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(lchown(link, 65534, 65534), 0);
    assert_refused(t, link, "symbolic link owned by uid 65534");
}

static void test_open_refuses_unsafe_files(void **state)
{
    struct tmp *t = *state;
    static const char *const names[] = {TP_SPOOL_LOCK, TP_SPOOL_FILE, TP_SPOOL_TMP};
    char target[256], name[256];
    make_target(t, target, sizeof target);
    for (size_t i = 0; i < COUNT_OF(names); i++) {
        snprintf(name, sizeof name, "%s/%s", t->dir, names[i]);
        /* a symbolic link to the target, and a dangling one */
        assert_int_equal(symlink(target, name), 0);
        assert_refused(t, t->dir, "is a symbolic link");
        assert_int_equal(unlink(name), 0);
        assert_int_equal(symlink("/nonexistent/twinprobe", name), 0);
        assert_refused(t, t->dir, "is a symbolic link");
        assert_int_equal(unlink(name), 0);
        /* a FIFO would block a reader */
        assert_int_equal(mkfifo(name, 0600), 0);
        assert_refused(t, t->dir, "is not a regular file");
        assert_int_equal(unlink(name), 0);
        /* a hard link to the target */
        assert_int_equal(link(target, name), 0);
        assert_refused(t, t->dir, "is hard-linked elsewhere");
        assert_int_equal(unlink(name), 0);
        /* writable by others */
        spit(name, "", "w");
        assert_int_equal(chmod(name, 0666), 0);
        assert_refused(t, t->dir, "is writable by group or others");
        if (geteuid() == 0) {
            assert_int_equal(chmod(name, 0600), 0);
            assert_int_equal(chown(name, 65534, 65534), 0);
            assert_refused(t, t->dir, "owned by uid 65534");
        }
        assert_int_equal(unlink(name), 0);
        assert_target_intact(target);
    }
}

static void test_created_dirs_are_0700_whatever_the_umask(void **state)
{
    struct tmp *t = *state;
    mode_t old = umask(0);
    struct stat st;
    tp_spool *s = NULL;
    struct tp_error err;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/a/spool", t->dir);
    assert_int_equal(tp_spool_open(dir, NULL, &s, &err), TP_OK);
    umask(old);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(path_in(t, "a/spool/" TP_SPOOL_LOCK), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tp_spool_close(s);
}

/* Links planted after the checks (a race): never followed, never written. */
static void test_links_planted_after_open_are_not_followed(void **state)
{
    struct tmp *t = *state;
    struct tp_batch b = {0};
    struct tp_replay res;
    struct tp_error err;
    char target[256], saved[256];
    size_t written;
    tp_spool *s;

    make_target(t, target, sizeof target);
    append(t, 0, 2);
    /* the spool file */
    s = open_spool(t);
    snprintf(saved, sizeof saved, "%s/saved", t->dir);
    assert_int_equal(rename(path_in(t, TP_SPOOL_FILE), saved), 0);
    assert_int_equal(symlink(target, path_in(t, TP_SPOOL_FILE)), 0);
    tp_error_clear(&err);
    assert_int_equal(tp_spool_replay(s, &scope, NULL, NULL, &res, &err), TP_ERR_IO);
    assert_int_equal(res.state, TP_REPLAY_FAILED);
    assert_non_null(strstr(err.text, "symbolic link (not followed)"));
    make_batch(&b, 5, 1);
    tp_error_clear(&err);
    assert_int_equal(tp_spool_append(s, &b, NULL, &written, &err), TP_ERR_IO);
    assert_non_null(strstr(err.text, "symbolic link (not followed)"));
    tp_spool_close(s);
    assert_target_intact(target);
    assert_int_equal(unlink(path_in(t, TP_SPOOL_FILE)), 0);
    assert_int_equal(rename(saved, path_in(t, TP_SPOOL_FILE)), 0);

    /* the temporary file: removed (the link, not its target), then created afresh */
    s = open_spool(t);
    assert_int_equal(symlink(target, path_in(t, TP_SPOOL_TMP)), 0);
    {
        struct sink k = {NULL, 0, "", 0};
        assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
        assert_string_equal(k.seen, "0,1");
    }
    tp_spool_close(s);
    assert_target_intact(target);
    {
        struct stat st;
        assert_int_equal(lstat(path_in(t, TP_SPOOL_TMP), &st), -1);
        assert_int_equal(lstat(path_in(t, TP_SPOOL_FILE), &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 0);
    }
    tp_batch_clear(&b);
}

static void test_quarantine_never_reuses_a_name(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_replay res;
    struct tp_error err;
    struct timespec now;
    char target[256], name[300];
    long long ms;
    tp_spool *s;

    make_target(t, target, sizeof target);
    append(t, 0, 1);
    spit(path_in(t, TP_SPOOL_FILE), "{\"torn", "a");
    /* every quarantine-<ms>.jsonl of the next 5 s: a link to the target, or a file */
    clock_gettime(CLOCK_REALTIME, &now);
    ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    for (long long m = ms - 5; m < ms + 5000; m++) {
        snprintf(name, sizeof name, "%s/quarantine-%lld.jsonl", t->dir, m);
        if (m % 2)
            assert_int_equal(symlink(target, name), 0);
        else
            spit(name, "kept\n", "w");
    }
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_int_equal(res.quarantined, 1);
    assert_string_equal(k.seen, "0");
    tp_spool_close(s);
    assert_target_intact(target);
    assert_non_null(strstr(t->log, "-1.jsonl"));
    {
        /* one quarantine file was created, holding the torn line; no pre-made one changed */
        DIR *d = opendir(t->dir);
        struct dirent *de;
        size_t created = 0;
        assert_non_null(d);
        while ((de = readdir(d))) {
            struct stat st;
            char *text;
            if (strncmp(de->d_name, "quarantine-", 11) != 0)
                continue;
            assert_int_equal(lstat(path_in(t, de->d_name), &st), 0);
            if (S_ISLNK(st.st_mode))
                continue; /* its target is checked above */
            text = slurp(path_in(t, de->d_name));
            if (strcmp(text, "kept\n") != 0) {
                assert_string_equal(text, "{\"torn\n");
                assert_non_null(strstr(de->d_name, "-1.jsonl"));
                assert_int_equal(st.st_mode & 0777, 0600);
                created++;
            }
            free(text);
        }
        closedir(d);
        assert_int_equal(created, 1);
    }
}

static void test_foreign_records_quarantined_never_sent(void **state)
{
    struct tmp *t = *state;
    struct sink k = {NULL, 0, "", 0};
    struct tp_replay res;
    struct tp_error err;
    char ids[64];
    tp_spool *s;

    append(t, 0, 1);
    spit(path_in(t, TP_SPOOL_FILE),
         "{\"key\":\"victim:sessions\",\"id\":\"1-1\",\"type\":\"xadd\",\"maxlen\":0,"
         "\"fields\":[[\"i\",\"evil-1\"]]}\n"
         "{\"key\":\"/etc/cron.d/x\",\"id\":\"\",\"type\":\"hset\",\"maxlen\":0,"
         "\"fields\":[[\"i\",\"* * * * * root sh -c evil\"]]}\n"
         "{\"key\":\"tp:runs:x\",\"id\":\"\",\"type\":\"hset\",\"maxlen\":0,"
         "\"fields\":[[\"i\",\"evil-3\"]]}\n"
         "{\"key\":\"tp:index\",\"id\":\"\",\"type\":\"sadd\",\"maxlen\":0,"
         "\"fields\":[[\"member\",\"victim:sessions\"]]}\n",
         "a");
    append(t, 1, 1);
    s = open_spool(t);
    assert_int_equal(tp_spool_replay(s, &scope, scripted, &k, &res, &err), TP_OK);
    assert_string_equal(k.seen, "0,1"); /* the forged records never reached the sink */
    assert_int_equal(res.quarantined, 4);
    assert_int_equal(res.foreign, 4);
    assert_int_equal(res.stored, 2);
    tp_spool_close(s);
    assert_non_null(strstr(t->log, "line 2 is for key \"victim:sessions\", which this probe does "
                                   "not write"));
    assert_non_null(strstr(t->log, "never sent"));
    assert_non_null(strstr(t->log, "line 4 is a hset for key \"tp:runs:x\", which takes xadd"));
    file_ids(t, ids, sizeof ids);
    assert_string_equal(ids, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test_setup_teardown(test_open_refuses_group_or_world_writable_dirs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_dir_of_another_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_unsafe_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_dirs_are_0700_whatever_the_umask, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_links_planted_after_open_are_not_followed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_never_reuses_a_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_records_quarantined_never_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_creates_private_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_unusable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_then_replay_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_stops_part_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_without_sink_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_records_stay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_line_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_middle_line_and_torn_tail_with_append, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_order_kept_across_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The spool: an fsync'd append-only file of records Redis has not taken yet,
 * its replay (a state machine) and the quarantine of torn lines. */
#include "twinprobe/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

struct tp_spool {
    char *dir;
    char *path; /* DIR/spool.jsonl */
    int dir_fd; /* every file is opened relative to it (openat) */
    int lock_fd;
    struct tp_spool_log log;
    struct tp_batch kept; /* after a replay: the records still in the file */
    enum tp_outcome *kept_outcome;
};

/* ---- records <-> lines ------------------------------------------------------------ */

char *tp_spool_encode(const struct tp_entry *e)
{
    json_t *o = json_object(), *fields = json_array();
    char *text = NULL, *line = NULL;
    int bad = !o || !fields;

    bad |= json_object_set_new(o, "key", json_string(e->key)) != 0;
    bad |= json_object_set_new(o, "id", json_string(e->type == TP_ENTRY_XADD ? e->id : "")) != 0;
    bad |= json_object_set_new(o, "type", json_string(tp_entry_type_name(e->type))) != 0;
    bad |= json_object_set_new(o, "maxlen",
                               json_integer(e->type == TP_ENTRY_XADD ? e->maxlen : 0)) != 0;
    for (size_t i = 0; !bad && i < e->nfields; i++)
        bad |= json_array_append_new(fields,
                                     json_pack("[ss]", e->fields[i].name, e->fields[i].value)) != 0;
    if (!bad && json_object_set(o, "fields", fields) == 0)
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        size_t len = strlen(text);
        line = malloc(len + 2);
        if (line) {
            memcpy(line, text, len);
            line[len] = '\n';
            line[len + 1] = '\0';
        }
    }
    free(text);
    json_decref(fields);
    json_decref(o);
    return line;
}

tp_err tp_spool_decode(const char *line, size_t len, struct tp_entry *out, struct tp_error *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *v, *fields, *pair;
    struct tp_entry e;
    struct tp_stream_id id;
    const char *why = NULL;
    int type;
    size_t i;
    tp_err rc = TP_OK;

    memset(out, 0, sizeof *out);
    memset(&e, 0, sizeof e);
    if (!o)
        return tp_error_set(err, TP_ERR_INVALID, "not JSON: %s", jerr.text);
    if (!json_is_object(o)) {
        why = "not a JSON object";
        goto bad;
    }
    v = json_object_get(o, "type");
    if ((type = tp_entry_type_from_name(json_string_value(v))) < 0) {
        why = "\"type\" is not xadd, hset or sadd";
        goto bad;
    }
    e.type = (enum tp_entry_type)type;
    v = json_object_get(o, "key");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        why = "\"key\" is not a non-empty string";
        goto bad;
    }
    if (!(e.key = strdup(json_string_value(v))))
        goto nomem;
    v = json_object_get(o, "id");
    if (e.type == TP_ENTRY_XADD) {
        if (!json_is_string(v) || tp_stream_id_parse(json_string_value(v), &id) != 0) {
            why = "\"id\" is not a stream ID <ms>-<seq>";
            goto bad;
        }
        tp_stream_id_format(id, e.id);
    } else if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) {
        why = "\"id\" must be empty for hset and sadd";
        goto bad;
    }
    v = json_object_get(o, "maxlen");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        why = "\"maxlen\" is not a non-negative integer";
        goto bad;
    }
    e.maxlen = e.type == TP_ENTRY_XADD ? (long)json_integer_value(v) : 0;
    fields = json_object_get(o, "fields");
    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        why = "\"fields\" is not a non-empty array";
        goto bad;
    }
    json_array_foreach (fields, i, pair) {
        json_t *k = json_array_get(pair, 0), *val = json_array_get(pair, 1);
        if (json_array_size(pair) != 2 || !json_is_string(k) || !json_is_string(val) ||
            strlen(json_string_value(k)) != json_string_length(k) ||
            strlen(json_string_value(val)) != json_string_length(val)) {
            why = "\"fields\" must hold [name, value] string pairs";
            goto bad;
        }
        if (tp_entry_add_field(&e, json_string_value(k), json_string_value(val)) != TP_OK)
            goto nomem;
    }
    json_decref(o);
    *out = e;
    return TP_OK;
nomem:
    rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    goto done;
bad:
    rc = tp_error_set(err, TP_ERR_INVALID, "%s", why);
done:
    tp_entry_clear(&e);
    json_decref(o);
    return rc;
}

/* ---- which records the probe writes ------------------------------------------------- */

enum key_kind { KEY_OTHER, KEY_STEPS, KEY_RUNS, KEY_LATEST, KEY_INDEX };

/* The part of s after word, or NULL when s does not start with it. */
static const char *skip(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncmp(s, word, n) == 0 ? s + n : NULL;
}

/* The keys of docs/redis-schema.md; {journey} follows the rule for a journey's
 * name (non-empty, no ':' and no white space). */
static enum key_kind key_kind(const char *key, const struct tp_spool_scope *sc)
{
    static const struct {
        const char *word;
        enum key_kind kind;
        int journey; /* the key ends in :{journey} */
    } kinds[] = {{"steps", KEY_STEPS, 1}, {"runs", KEY_RUNS, 0}, {"latest", KEY_LATEST, 1}};
    const char *p = skip(key, sc->prefix);

    if (!p || *p++ != ':')
        return KEY_OTHER;
    if (strcmp(p, "index") == 0)
        return KEY_INDEX;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const char *q = skip(p, kinds[i].word);
        if (!q || *q++ != ':' || !(q = skip(q, sc->location)))
            continue;
        if (!kinds[i].journey)
            return *q == '\0' ? kinds[i].kind : KEY_OTHER;
        if (*q++ != ':' || *q == '\0' || strpbrk(q, ": \t\n"))
            return KEY_OTHER;
        return kinds[i].kind;
    }
    return KEY_OTHER;
}

tp_err tp_spool_check(const struct tp_entry *e, const struct tp_spool_scope *scope,
                      struct tp_error *why)
{
    /* the one command each kind of key takes */
    static const int fits[] = {[KEY_OTHER] = -1,
                               [KEY_STEPS] = TP_ENTRY_XADD,
                               [KEY_RUNS] = TP_ENTRY_XADD,
                               [KEY_LATEST] = TP_ENTRY_HSET,
                               [KEY_INDEX] = TP_ENTRY_SADD};
    enum key_kind kind = key_kind(e->key, scope);

    if (kind == KEY_OTHER)
        return tp_error_set(why, TP_ERR_INVALID,
                            "for key \"%.200s\", which this probe does not write (%s:steps:%s:*, "
                            "%s:runs:%s, %s:latest:%s:*, %s:index)",
                            e->key, scope->prefix, scope->location, scope->prefix, scope->location,
                            scope->prefix, scope->location, scope->prefix);
    if ((int)e->type != fits[kind])
        return tp_error_set(why, TP_ERR_INVALID, "a %s for key \"%.200s\", which takes %s",
                            tp_entry_type_name(e->type), e->key,
                            tp_entry_type_name((enum tp_entry_type)fits[kind]));
    for (size_t i = 0; kind == KEY_INDEX && i < e->nfields; i++) {
        enum key_kind m = key_kind(e->fields[i].value, scope);
        if (strcmp(e->fields[i].name, "member") != 0 || (m != KEY_STEPS && m != KEY_RUNS))
            return tp_error_set(why, TP_ERR_INVALID,
                                "an sadd to \"%.200s\" of \"%.200s\", which is not a steps or "
                                "runs stream of this probe",
                                e->key, e->fields[i].value);
    }
    return TP_OK;
}

/* ---- files --------------------------------------------------------------------------- */

static void say(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void say(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(ctx, msg);
}

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* mkdir -p with mode 0700 for what it creates (whatever the umask). */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    struct stat st;
    int rc = 0;
    if (!p)
        return -1;
    for (char *q = p + 1; rc == 0; q++) {
        int last = *q == '\0';
        if (*q != '/' && !last)
            continue;
        *q = '\0';
        if (mkdir(p, 0700) == 0) {
            if (chmod(p, 0700) != 0)
                rc = -1;
        } else if (errno != EEXIST || stat(p, &st) != 0) {
            rc = -1;
        } else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
        if (last)
            break;
        *q = '/';
    }
    free(p);
    return rc;
}

/* Why the file st is not one the spool may use (into buf), or NULL: it must be
 * a regular file of the effective user, with no other hard link, that neither
 * group nor others may write. */
static const char *unsafe_file(const struct stat *st, char *buf, size_t size)
{
    if (S_ISLNK(st->st_mode))
        return "a symbolic link";
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid()) {
        snprintf(buf, size, "owned by uid %lu, not by uid %lu (the user twinprobe runs as)",
                 (unsigned long)st->st_uid, (unsigned long)geteuid());
        return buf;
    }
    if (st->st_nlink != 1)
        return "hard-linked elsewhere";
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return "writable by group or others";
    return NULL;
}

/* The directory's own checks (fd open on it). TP_ERR_INVALID when unsafe. */
static tp_err check_dir(const char *dir, int fd, struct tp_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tp_error_set(err, TP_ERR_IO, "spool %s: cannot stat the directory: %s", dir,
                            strerror(errno));
    if (st.st_uid != geteuid())
        return tp_error_set(err, TP_ERR_INVALID,
                            "spool %s: refused: the directory is owned by uid %lu, not by uid %lu "
                            "(the user twinprobe runs as); nothing was read from it",
                            dir, (unsigned long)st.st_uid, (unsigned long)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return tp_error_set(err, TP_ERR_INVALID,
                            "spool %s: refused: the directory is writable by %s (mode %04o; "
                            "chmod 700 it); nothing was read from it",
                            dir,
                            (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "group and others"
                            : (st.st_mode & S_IWGRP)                         ? "its group"
                                                                             : "others",
                            (unsigned)(st.st_mode & 07777));
    return TP_OK;
}

/* Opens dir (*fd) after the check that needs its path: a symbolic link to it
 * must be the user's or root's (TP_ERR_INVALID). */
static tp_err open_dir(const char *dir, int *fd, struct tp_error *err)
{
    struct stat st;
    if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != geteuid() && st.st_uid != 0)
        return tp_error_set(err, TP_ERR_INVALID,
                            "spool %s: refused: it is a symbolic link owned by uid %lu, neither "
                            "the user twinprobe runs as nor root; nothing was read from it",
                            dir, (unsigned long)st.st_uid);
    if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return tp_error_set(err, TP_ERR_IO, "spool %s: cannot open the directory: %s", dir,
                            strerror(errno));
    return TP_OK;
}

/* The files the spool opens by name (quarantine files are only ever created). */
static const char *const spool_names[] = {TP_SPOOL_LOCK, TP_SPOOL_FILE, TP_SPOOL_TMP,
                                          TP_SPOOL_RUN_LOCK};

static tp_err check_names(const char *dir, int fd, struct tp_error *err)
{
    for (size_t i = 0; i < sizeof spool_names / sizeof spool_names[0]; i++) {
        struct stat st;
        const char *why;
        char buf[128];
        if (fstatat(fd, spool_names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            return tp_error_set(err, TP_ERR_IO, "spool %s: cannot stat %s: %s", dir, spool_names[i],
                                strerror(errno));
        }
        if ((why = unsafe_file(&st, buf, sizeof buf)))
            return tp_error_set(err, TP_ERR_INVALID,
                                "spool %s: refused: %s is %s; nothing was read from the directory",
                                dir, spool_names[i], why);
    }
    return TP_OK;
}

/* Opens name in the spool directory, never through a symbolic link (O_NOFOLLOW;
 * O_CLOEXEC; O_NONBLOCK, so a FIFO cannot hold it), and checks that it opened a
 * file unsafe_file accepts. -1 with errno (ELOOP: a link; EPERM: not such a file). */
static int open_at(int dir_fd, const char *name, int flags)
{
    struct stat st;
    char buf[128];
    int fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd >= 0 && (fstat(fd, &st) != 0 || unsafe_file(&st, buf, sizeof buf))) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

static int open_in(const tp_spool *s, const char *name, int flags)
{
    return open_at(s->dir_fd, name, flags);
}

/* errno after open_in, in words. */
static const char *open_error(int e)
{
    if (e == ELOOP)
        return "it is a symbolic link (not followed)";
    if (e == EPERM)
        return "it is not a regular file of this user's alone";
    return strerror(e);
}

static int take_lock(int fd)
{
    struct flock fl;
    for (long waited = 0;; waited += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if ((errno != EACCES && errno != EAGAIN && errno != EINTR) ||
            waited >= TP_SPOOL_LOCK_WAIT_MS)
            return -1;
        nanosleep(&ts, NULL);
    }
}

tp_err tp_spool_open(const char *dir, const struct tp_spool_log *log, tp_spool **out,
                     struct tp_error *err)
{
    tp_spool *s = calloc(1, sizeof *s);
    tp_err rc = TP_ERR_IO;
    *out = NULL;
    if (s)
        s->dir_fd = s->lock_fd = -1;
    if (!s || !(s->dir = strdup(dir)) || !(s->path = join(dir, TP_SPOOL_FILE))) {
        tp_spool_close(s);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    if (log)
        s->log = *log;
    if (make_dirs(dir) != 0) {
        tp_error_set(err, TP_ERR_IO, "spool %s: cannot create the directory: %s", dir,
                     strerror(errno));
        goto fail;
    }
    if ((rc = open_dir(dir, &s->dir_fd, err)) != TP_OK ||
        (rc = check_dir(dir, s->dir_fd, err)) != TP_OK ||
        (rc = check_names(dir, s->dir_fd, err)) != TP_OK)
        goto fail;
    rc = TP_ERR_IO;
    s->lock_fd = open_in(s, TP_SPOOL_LOCK, O_RDWR | O_CREAT);
    if (s->lock_fd < 0) {
        tp_error_set(err, TP_ERR_IO, "spool %s: cannot open %s: %s", dir, TP_SPOOL_LOCK,
                     open_error(errno));
        goto fail;
    }
    if (take_lock(s->lock_fd) != 0) {
        tp_error_set(err, TP_ERR_IO, "spool %s: cannot lock %s/%s: %s", dir, dir, TP_SPOOL_LOCK,
                     errno == EACCES || errno == EAGAIN ? "another twinprobe holds it"
                                                        : strerror(errno));
        goto fail;
    }
    *out = s;
    return TP_OK;
fail:
    tp_spool_close(s);
    return rc;
}

/* The holder's "PID SINCE" from the lock file fd into h (pid 0: not written yet). */
static void read_holder(int fd, struct tp_run_holder *h)
{
    char buf[96];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    memset(h, 0, sizeof *h);
    if (n <= 0)
        return;
    buf[n] = '\0';
    if (sscanf(buf, "%ld %31s", &h->pid, h->since) != 2)
        memset(h, 0, sizeof *h);
}

tp_err tp_spool_run_lock(const char *dir, int *fd, struct tp_run_holder *holder,
                         struct tp_error *err)
{
    int dir_fd = -1, lock_fd = -1;
    tp_err rc;
    char line[96], since[32];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    *fd = -1;
    memset(holder, 0, sizeof *holder);
    if (make_dirs(dir) != 0)
        return tp_error_set(err, TP_ERR_IO, "spool %s: cannot create the directory: %s", dir,
                            strerror(errno));
    if ((rc = open_dir(dir, &dir_fd, err)) != TP_OK ||
        (rc = check_dir(dir, dir_fd, err)) != TP_OK ||
        (rc = check_names(dir, dir_fd, err)) != TP_OK)
        goto done;
    rc = TP_ERR_IO;
    if ((lock_fd = open_at(dir_fd, TP_SPOOL_RUN_LOCK, O_RDWR | O_CREAT)) < 0) {
        tp_error_set(err, TP_ERR_IO, "spool %s: cannot open %s: %s", dir, TP_SPOOL_RUN_LOCK,
                     open_error(errno));
        goto done;
    }
    while ((n = flock(lock_fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (n != 0) {
        if (errno == EWOULDBLOCK) {
            read_holder(lock_fd, holder);
            rc = TP_OK; /* held: *fd stays -1 */
        } else {
            tp_error_set(err, TP_ERR_IO, "spool %s: cannot lock %s: %s", dir, TP_SPOOL_RUN_LOCK,
                         strerror(errno));
        }
        goto done;
    }
    if (!gmtime_r(&now, &tm) || strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(since, sizeof since, "%s", "unknown");
    n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), since);
    /* Who holds it, for the run that finds it held; the lock works without it. */
    if (ftruncate(lock_fd, 0) == 0)
        (void)write_all(lock_fd, line, (size_t)n);
    *fd = lock_fd;
    lock_fd = -1;
    rc = TP_OK;
done:
    if (lock_fd >= 0)
        close(lock_fd);
    if (dir_fd >= 0)
        close(dir_fd);
    return rc;
}

void tp_run_holder_describe(const struct tp_run_holder *h, char *buf, size_t size)
{
    if (h->pid > 0)
        snprintf(buf, size, "pid %ld since %s", h->pid, h->since);
    else
        snprintf(buf, size, "%s", "a process that has not written its pid yet");
}

void tp_spool_close(tp_spool *s)
{
    if (!s)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock */
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    tp_batch_clear(&s->kept);
    free(s->kept_outcome);
    free(s->dir);
    free(s->path);
    free(s);
}

const char *tp_spool_dir(const tp_spool *s)
{
    return s->dir;
}

const char *tp_spool_path(const tp_spool *s)
{
    return s->path;
}

/* Reads the whole file (absent: empty). *buf new. */
static tp_err read_file(const tp_spool *s, char **buf, size_t *len, struct tp_error *err)
{
    int fd = open_in(s, TP_SPOOL_FILE, O_RDONLY);
    struct stat st;
    size_t used = 0;
    *buf = NULL;
    *len = 0;
    if (fd < 0 && errno == ENOENT)
        return TP_OK;
    if (fd < 0 || fstat(fd, &st) != 0) {
        tp_error_set(err, TP_ERR_IO, "spool %s: cannot read: %s", s->path, open_error(errno));
        if (fd >= 0)
            close(fd);
        return TP_ERR_IO;
    }
    if ((unsigned long long)st.st_size > TP_SPOOL_MAX_BYTES) {
        close(fd);
        return tp_error_set(err, TP_ERR_LIMIT, "spool %s: larger than %u MiB", s->path,
                            TP_SPOOL_MAX_BYTES >> 20);
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf) {
        close(fd);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory reading the spool");
    }
    for (;;) {
        ssize_t n = read(fd, *buf + used, (size_t)st.st_size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tp_error_set(err, TP_ERR_IO, "spool %s: cannot read: %s", s->path, strerror(errno));
            close(fd);
            free(*buf);
            *buf = NULL;
            return TP_ERR_IO;
        }
        if (n == 0 || (used += (size_t)n) == (size_t)st.st_size)
            break;
    }
    close(fd);
    (*buf)[used] = '\0';
    *len = used;
    return TP_OK;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One replay's quarantine file: created on the first line, O_EXCL. */
struct quarantine {
    int fd;          /* -1 until created */
    char name[64];   /* quarantine-<ms>.jsonl or quarantine-<ms>-<n>.jsonl */
    char path[4200]; /* DIR/name, for messages */
};

/* Creates a quarantine file under a name nothing holds yet: never opens, follows
 * or truncates what is there (a pre-made file or link is left alone). */
static tp_err quarantine_create(tp_spool *s, struct quarantine *q, struct tp_error *err)
{
    int64_t ms = wall_ms();
    int e = EEXIST;
    for (int n = 0; n < TP_SPOOL_QUARANTINE_TRIES && e == EEXIST; n++) {
        struct stat st;
        if (n == 0)
            snprintf(q->name, sizeof q->name, "quarantine-%" PRId64 ".jsonl", ms);
        else
            snprintf(q->name, sizeof q->name, "quarantine-%" PRId64 "-%d.jsonl", ms, n);
        q->fd = open_in(s, q->name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
        snprintf(q->path, sizeof q->path, "%s/%s", s->dir, q->name);
        if (q->fd >= 0)
            return TP_OK;
        if ((e = errno) == EEXIST && fstatat(s->dir_fd, q->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
            say(s->log.warn, s->log.ctx,
                "spool %s: %s is a symbolic link: left alone, not followed", s->dir, q->name);
    }
    return tp_error_set(err, TP_ERR_IO, "spool: cannot create %s: %s", q->path,
                        e == EEXIST ? "every name tried exists" : open_error(e));
}

static tp_err quarantine(tp_spool *s, struct quarantine *q, const char *line, size_t len,
                         struct tp_error *err)
{
    tp_err rc = q->fd < 0 ? quarantine_create(s, q, err) : TP_OK;
    if (rc == TP_OK && (write_all(q->fd, line, len) != 0 || write_all(q->fd, "\n", 1) != 0))
        rc = tp_error_set(err, TP_ERR_IO, "spool: cannot write %s: %s", q->path, strerror(errno));
    return rc;
}

/* Makes the quarantine durable (before the spool drops its lines) and closes it. */
static tp_err quarantine_close(tp_spool *s, struct quarantine *q, tp_err rc, struct tp_error *err)
{
    if (q->fd < 0)
        return rc;
    if (rc == TP_OK && fsync(q->fd) != 0)
        rc = tp_error_set(err, TP_ERR_IO, "spool: cannot write %s: %s", q->path, strerror(errno));
    if (close(q->fd) != 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_ERR_IO, "spool: cannot write %s: %s", q->path, strerror(errno));
    q->fd = -1;
    if (rc == TP_OK && fsync(s->dir_fd) != 0)
        rc = tp_error_set(err, TP_ERR_IO, "spool %s: fsync: %s", s->dir, strerror(errno));
    return rc;
}

/* LOAD: every line decoded into s->kept; torn or broken lines, and records for
 * keys outside scope, quarantined. */
static tp_err load(tp_spool *s, const struct tp_spool_scope *scope, struct tp_replay *res,
                   struct tp_error *err)
{
    struct quarantine q = {-1, "", ""};
    char *buf;
    size_t len, lineno = 0;
    tp_err rc = read_file(s, &buf, &len, err);

    tp_batch_clear(&s->kept);
    for (size_t at = 0; rc == TP_OK && at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;
        struct tp_entry e;
        struct tp_error why;
        tp_err dec;
        int foreign = 0;
        lineno++;
        tp_error_clear(&why);
        if (n == 0) {
            at++;
            continue;
        }
        if (!nl)
            tp_error_set(&why, TP_ERR_INVALID, "torn (no newline at the end)");
        dec = nl ? tp_spool_decode(buf + at, n, &e, &why) : TP_ERR_INVALID;
        if (dec == TP_OK && tp_spool_check(&e, scope, &why) != TP_OK) {
            tp_entry_clear(&e);
            dec = TP_ERR_INVALID;
            foreign = 1;
        }
        if (dec != TP_OK) {
            if (dec == TP_ERR_NOMEM)
                rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory reading the spool");
            else if ((rc = quarantine(s, &q, buf + at, n, err)) == TP_OK) {
                res->quarantined++;
                res->foreign += foreign;
                say(s->log.warn, s->log.ctx, "spool %s: line %zu is %s: moved to %s%s", s->path,
                    lineno, why.text, q.path, foreign ? ", never sent" : "");
            }
        } else if (tp_batch_take(&s->kept, &e) != TP_OK) {
            tp_entry_clear(&e);
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory reading the spool");
        }
        at += n + (nl ? 1 : 0);
    }
    free(buf);
    res->records = s->kept.count;
    return quarantine_close(s, &q, rc, err);
}

/* Writes the records of b without a taken outcome to fd, in chunks of about
 * 64 KiB; *written (may be NULL) counts the records whose bytes were written. */
static int write_records(int fd, const struct tp_batch *b, const enum tp_outcome *outcome,
                         size_t *written)
{
    char *chunk = NULL;
    size_t used = 0, cap = 0, in_chunk = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= b->count; i++) {
        char *line = NULL;
        size_t n = 0;
        if (i < b->count) {
            if (outcome && (outcome[i] == TP_OUT_STORED || outcome[i] == TP_OUT_PRESENT))
                continue;
            if (!(line = tp_spool_encode(&b->items[i]))) {
                errno = ENOMEM;
                rc = -1;
                break;
            }
            n = strlen(line);
        }
        if (used > 0 && (i == b->count || used + n > 65536)) {
            rc = write_all(fd, chunk, used);
            if (rc == 0 && written)
                *written += in_chunk;
            used = in_chunk = 0;
        }
        if (rc == 0 && line && used + n > cap) {
            size_t ncap = used + n > 65536 ? used + n : 65536;
            char *c = realloc(chunk, ncap);
            if (!c) {
                errno = ENOMEM;
                rc = -1;
            } else {
                chunk = c;
                cap = ncap;
            }
        }
        if (rc == 0 && line) {
            memcpy(chunk + used, line, n);
            used += n;
            in_chunk++;
        }
        free(line);
    }
    free(chunk);
    return rc;
}

/* REWRITE and SAVE: the file becomes the records without a taken outcome. The
 * temporary file is created afresh (O_EXCL, 0600) after removing a stale one. */
static tp_err rewrite(tp_spool *s, const enum tp_outcome *outcome, struct tp_error *err)
{
    int fd = -1;
    tp_err rc = TP_OK;
    struct tp_batch keep = {0};

    if (unlinkat(s->dir_fd, TP_SPOOL_TMP, 0) != 0 && errno != ENOENT)
        return tp_error_set(err, TP_ERR_IO, "spool: cannot remove %s/%s: %s", s->dir, TP_SPOOL_TMP,
                            strerror(errno));
    if ((fd = open_in(s, TP_SPOOL_TMP, O_WRONLY | O_CREAT | O_EXCL)) < 0)
        return tp_error_set(err, TP_ERR_IO, "spool: cannot create %s/%s: %s", s->dir, TP_SPOOL_TMP,
                            open_error(errno));
    if (write_records(fd, &s->kept, outcome, NULL) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlinkat(s->dir_fd, TP_SPOOL_TMP, 0);
        return tp_error_set(err, TP_ERR_IO, "spool: cannot write %s/%s: %s", s->dir, TP_SPOOL_TMP,
                            strerror(e));
    }
    if (close(fd) != 0) {
        unlinkat(s->dir_fd, TP_SPOOL_TMP, 0);
        return tp_error_set(err, TP_ERR_IO, "spool: cannot write %s/%s: %s", s->dir, TP_SPOOL_TMP,
                            strerror(errno));
    }
    if (renameat(s->dir_fd, TP_SPOOL_TMP, s->dir_fd, TP_SPOOL_FILE) != 0 || fsync(s->dir_fd) != 0) {
        rc = tp_error_set(err, TP_ERR_IO, "spool: cannot replace %s: %s", s->path, strerror(errno));
        unlinkat(s->dir_fd, TP_SPOOL_TMP, 0);
        return rc;
    }
    /* Only the kept records stay in memory. */
    for (size_t i = 0; i < s->kept.count; i++) {
        if (outcome[i] == TP_OUT_STORED || outcome[i] == TP_OUT_PRESENT) {
            tp_entry_clear(&s->kept.items[i]);
            continue;
        }
        if (tp_batch_take(&keep, &s->kept.items[i]) != TP_OK) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            tp_entry_clear(&s->kept.items[i]);
        } else {
            s->kept_outcome[keep.count - 1] = outcome[i];
        }
    }
    s->kept.count = 0;
    tp_batch_clear(&s->kept);
    s->kept = keep;
    return rc;
}

/* ---- the replay state machine ------------------------------------------------------ */

#define NSTATES (TP_REPLAY_FAILED + 1)
#define NEVENTS (TP_REV_IO_FAILED + 1)
#define X TP_REPLAY_FAILED /* an event the state does not expect */

static const enum tp_replay_state transitions[NSTATES][NEVENTS] = {
    /*                   OK                 EMPTY           UNCHANGED       PARTIAL
                         NONE               IO_FAILED */
    [TP_REPLAY_LOAD] = {TP_REPLAY_SEND, TP_REPLAY_DONE, X, X, X, TP_REPLAY_FAILED},
    [TP_REPLAY_SEND] = {TP_REPLAY_REWRITE, X, TP_REPLAY_DONE, TP_REPLAY_SAVE, TP_REPLAY_STOPPED,
                        TP_REPLAY_FAILED},
    [TP_REPLAY_REWRITE] = {TP_REPLAY_DONE, X, X, X, X, TP_REPLAY_FAILED},
    [TP_REPLAY_SAVE] = {TP_REPLAY_STOPPED, X, X, X, X, TP_REPLAY_FAILED},
    [TP_REPLAY_DONE] = {TP_REPLAY_DONE, TP_REPLAY_DONE, TP_REPLAY_DONE, TP_REPLAY_DONE,
                        TP_REPLAY_DONE, TP_REPLAY_DONE},
    [TP_REPLAY_STOPPED] = {TP_REPLAY_STOPPED, TP_REPLAY_STOPPED, TP_REPLAY_STOPPED,
                           TP_REPLAY_STOPPED, TP_REPLAY_STOPPED, TP_REPLAY_STOPPED},
    [TP_REPLAY_FAILED] = {X, X, X, X, X, X},
};
#undef X

static const char *const state_names[NSTATES] = {"load", "send",    "rewrite", "save",
                                                 "done", "stopped", "failed"};
static const char *const event_names[NEVENTS] = {"ok",      "empty", "unchanged",
                                                 "partial", "none",  "io_failed"};

enum tp_replay_state tp_replay_next(enum tp_replay_state s, enum tp_replay_event ev)
{
    if ((unsigned)s >= NSTATES || (unsigned)ev >= NEVENTS)
        return TP_REPLAY_FAILED;
    return transitions[s][ev];
}

const char *tp_replay_state_name(enum tp_replay_state s)
{
    return (unsigned)s < NSTATES ? state_names[s] : "?";
}

/* The only place the replay changes state; logs the change. */
static void step(tp_spool *s, struct tp_replay *res, enum tp_replay_event ev)
{
    enum tp_replay_state next = tp_replay_next(res->state, ev);
    say(s->log.debug, s->log.ctx, "spool replay: %s --%s--> %s", state_names[res->state],
        event_names[ev], state_names[next]);
    res->state = next;
}

/* SEND: hands the records to the sink and counts the outcomes. */
static enum tp_replay_event send(tp_spool *s, tp_spool_sink sink, void *ctx, struct tp_replay *res,
                                 struct tp_error *sink_err)
{
    tp_err rc = TP_ERR_IO;
    size_t taken;
    if (sink)
        rc = sink(ctx, s->kept.items, s->kept.count, s->kept_outcome, sink_err);
    else
        tp_error_set(sink_err, TP_ERR_IO, "Redis is not reachable");
    for (size_t i = 0; i < s->kept.count; i++) {
        enum tp_outcome o = s->kept_outcome[i];
        res->stored += o == TP_OUT_STORED;
        res->present += o == TP_OUT_PRESENT;
        res->refused += o == TP_OUT_REFUSED;
        res->pending += o == TP_OUT_PENDING;
    }
    taken = res->stored + res->present;
    if (rc == TP_OK && res->pending == 0)
        return taken || res->quarantined ? TP_REV_OK : TP_REV_UNCHANGED;
    if (rc == TP_OK) /* a sink that breaks its contract: keep the rest */
        tp_error_set(sink_err, TP_ERR_INTERNAL, "the Redis sink left records unanswered");
    return taken || res->quarantined ? TP_REV_PARTIAL : TP_REV_NONE;
}

tp_err tp_spool_replay(tp_spool *s, const struct tp_spool_scope *scope, tp_spool_sink sink,
                       void *ctx, struct tp_replay *res, struct tp_error *err)
{
    struct tp_error sink_err;
    tp_err rc = TP_OK, io = TP_OK;

    memset(res, 0, sizeof *res);
    tp_error_clear(&sink_err);
    res->state = TP_REPLAY_LOAD;
    while (res->state != TP_REPLAY_DONE && res->state != TP_REPLAY_STOPPED &&
           res->state != TP_REPLAY_FAILED) {
        switch (res->state) {
        case TP_REPLAY_LOAD:
            free(s->kept_outcome);
            s->kept_outcome = NULL;
            if ((io = load(s, scope, res, err)) == TP_OK &&
                !(s->kept_outcome = calloc(s->kept.count + 1, sizeof *s->kept_outcome)))
                io = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            step(s, res,
                 io != TP_OK                               ? TP_REV_IO_FAILED
                 : s->kept.count == 0 && !res->quarantined ? TP_REV_EMPTY
                                                           : TP_REV_OK);
            break;
        case TP_REPLAY_SEND:
            step(s, res, send(s, sink, ctx, res, &sink_err));
            break;
        case TP_REPLAY_REWRITE:
        case TP_REPLAY_SAVE:
            io = rewrite(s, s->kept_outcome, err);
            step(s, res, io == TP_OK ? TP_REV_OK : TP_REV_IO_FAILED);
            break;
        default:
            step(s, res, TP_REV_IO_FAILED);
            break;
        }
    }
    if (res->refused)
        say(s->log.warn, s->log.ctx, "spool %s: %zu record%s refused by Redis, kept", s->path,
            res->refused, res->refused == 1 ? "" : "s");
    if (res->state == TP_REPLAY_FAILED)
        rc = io != TP_OK ? io : tp_error_set(err, TP_ERR_INTERNAL, "spool replay went astray");
    else if (res->state == TP_REPLAY_STOPPED) {
        if (err)
            *err = sink_err;
        rc = TP_ERR_IO;
    }
    return rc;
}

tp_err tp_spool_tops(const tp_spool *s, struct tp_stream_tops *tops)
{
    for (size_t i = 0; i < s->kept.count; i++) {
        const struct tp_entry *e = &s->kept.items[i];
        struct tp_stream_id id;
        if (e->type == TP_ENTRY_XADD && tp_stream_id_parse(e->id, &id) == 0 &&
            tp_stream_tops_raise(tops, e->key, id) != TP_OK)
            return TP_ERR_NOMEM;
    }
    return TP_OK;
}

size_t tp_spool_pending(const tp_spool *s)
{
    size_t n = 0;
    for (size_t i = 0; s->kept_outcome && i < s->kept.count; i++)
        n += s->kept_outcome[i] == TP_OUT_PENDING;
    return s->kept_outcome ? n : s->kept.count;
}

/* 1 when the file is non-empty and does not end in a newline (a torn write). */
static int ends_torn(int fd)
{
    struct stat st;
    char last;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        return 0;
    return pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

tp_err tp_spool_append(tp_spool *s, const struct tp_batch *b, const enum tp_outcome *outcome,
                       size_t *written, struct tp_error *err)
{
    int created = 0, fd;
    size_t n = 0;

    if (written)
        *written = 0;
    for (size_t i = 0; i < b->count; i++)
        n += !outcome || (outcome[i] != TP_OUT_STORED && outcome[i] != TP_OUT_PRESENT);
    if (n == 0)
        return TP_OK;
    fd = open_in(s, TP_SPOOL_FILE, O_RDWR | O_APPEND); /* RDWR: see ends_torn */
    if (fd < 0 && errno == ENOENT) {
        fd = open_in(s, TP_SPOOL_FILE, O_RDWR | O_APPEND | O_CREAT | O_EXCL);
        created = 1;
    }
    if (fd < 0)
        return tp_error_set(err, TP_ERR_IO, "spool: cannot open %s: %s", s->path,
                            open_error(errno));
    /* A torn last line (a crash mid-write) gets its newline, so the next replay
     * quarantines it alone and the records below stay whole. */
    if ((ends_torn(fd) && write_all(fd, "\n", 1) != 0) ||
        write_records(fd, b, outcome, written) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return tp_error_set(err, TP_ERR_IO, "spool: cannot write %s: %s", s->path, strerror(e));
    }
    if (close(fd) != 0)
        return tp_error_set(err, TP_ERR_IO, "spool: cannot write %s: %s", s->path, strerror(errno));
    if (created && fsync(s->dir_fd) != 0)
        return tp_error_set(err, TP_ERR_IO, "spool %s: fsync: %s", s->dir, strerror(errno));
    return TP_OK;
}

/* A journey run's variables: a small array of name/value pairs. Sets hold tens of
 * names, so a linear search beats a hash on every count that matters. */
#include "twinprobe/vars.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/template.h"

struct tp_var {
    char *name;
    char *value;
};

struct tp_vars {
    struct tp_var *items;
    size_t count;
    size_t cap;
};

tp_vars *tp_vars_create(void)
{
    return calloc(1, sizeof(tp_vars));
}

void tp_vars_free(tp_vars *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->count; i++) {
        free(v->items[i].name);
        free(v->items[i].value);
    }
    free(v->items);
    free(v);
}

static struct tp_var *find(const tp_vars *v, const char *name)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->items[i].name, name) == 0)
            return &v->items[i];
    return NULL;
}

tp_err tp_vars_set(tp_vars *v, const char *name, const char *value)
{
    struct tp_var *slot;
    char *copy, *key = NULL;

    if (!v || !name || !value)
        return TP_ERR_INVALID;
    copy = strdup(value);
    if (!copy)
        return TP_ERR_NOMEM;
    slot = find(v, name);
    if (slot) {
        free(slot->value);
        slot->value = copy;
        return TP_OK;
    }
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct tp_var *items =
            cap > SIZE_MAX / sizeof *items ? NULL : realloc(v->items, cap * sizeof *items);
        if (!items)
            goto nomem;
        v->items = items;
        v->cap = cap;
    }
    key = strdup(name);
    if (!key)
        goto nomem;
    v->items[v->count].name = key;
    v->items[v->count].value = copy;
    v->count++;
    return TP_OK;
nomem:
    free(copy);
    return TP_ERR_NOMEM;
}

const char *tp_vars_get(const tp_vars *v, const char *name)
{
    const struct tp_var *slot;

    if (!v || !name)
        return NULL;
    slot = find(v, name);
    return slot ? slot->value : NULL;
}

size_t tp_vars_count(const tp_vars *v)
{
    return v ? v->count : 0;
}

const char *tp_vars_name_at(const tp_vars *v, size_t i)
{
    return v && i < v->count ? v->items[i].name : NULL;
}

const char *tp_vars_value_at(const tp_vars *v, size_t i)
{
    return v && i < v->count ? v->items[i].value : NULL;
}

int tp_vars_valid_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* name (n bytes, not NUL-terminated) = value: checked, then set. */
static tp_err assign(tp_vars *v, const char *name, size_t n, const char *value,
                     struct tp_error *err)
{
    char buf[128];
    size_t nbuiltins;
    const char *const *builtins = tp_template_builtins(&nbuiltins);

    if (n == 0)
        return tp_error_set(err, TP_ERR_INVALID, "expected NAME=VALUE, got no name before '='");
    if (n >= sizeof buf)
        return tp_error_set(err, TP_ERR_INVALID, "the name is longer than %zu bytes",
                            sizeof buf - 1);
    memcpy(buf, name, n);
    buf[n] = '\0';
    if (!tp_vars_valid_name(buf))
        return tp_error_set(err, TP_ERR_INVALID,
                            "\"%s\" is not a variable name (letters, digits, _ and -, not "
                            "starting with a digit)",
                            buf);
    for (size_t i = 0; i < nbuiltins; i++)
        if (strcmp(builtins[i], buf) == 0)
            return tp_error_set(err, TP_ERR_INVALID,
                                "\"%s\" is a built-in placeholder, which a variable cannot "
                                "replace",
                                buf);
    if (tp_vars_set(v, buf, value) != TP_OK)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

tp_err tp_vars_assign(tp_vars *v, const char *arg, struct tp_error *err)
{
    const char *eq = arg ? strchr(arg, '=') : NULL;

    if (!eq)
        return tp_error_set(err, TP_ERR_INVALID, "expected NAME=VALUE, got \"%s\"",
                            arg ? arg : "");
    return assign(v, arg, (size_t)(eq - arg), eq + 1, err);
}

tp_err tp_vars_assign_lines(tp_vars *v, const char *text, size_t len, struct tp_error *err)
{
    size_t pos = 0;
    int line = 0;

    while (pos < len) {
        const char *b = text + pos, *nl = memchr(b, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - b) : len - pos;
        const char *e = b + n, *eq, *ne;
        char *value;
        tp_err rc;

        pos += n + (nl ? 1 : 0);
        line++;
        if (err)
            err->line = line;
        if (memchr(b, '\0', n))
            return tp_error_set(err, TP_ERR_INVALID, "a NUL byte: this is no text file");
        if (e > b && e[-1] == '\r')
            e--;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        if (b == e || *b == '#')
            continue;
        eq = memchr(b, '=', (size_t)(e - b));
        if (!eq)
            return tp_error_set(err, TP_ERR_INVALID, "expected NAME=VALUE, got \"%.*s\"",
                                (int)(e - b > 60 ? 60 : e - b), b);
        for (ne = eq; ne > b && (ne[-1] == ' ' || ne[-1] == '\t');)
            ne--;
        value = malloc((size_t)(e - eq));
        if (!value)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        memcpy(value, eq + 1, (size_t)(e - eq - 1));
        value[e - eq - 1] = '\0';
        rc = assign(v, b, (size_t)(ne - b), value, err);
        free(value);
        if (rc != TP_OK)
            return rc;
    }
    return TP_OK;
}

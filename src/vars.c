/* A journey run's variables: a small array of name/value pairs. Sets hold tens of
 * names, so a linear search beats a hash on every count that matters. */
#include "twinprobe/vars.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

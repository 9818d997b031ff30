/* Placeholder until the mask module lands: secret masking. */
#ifndef TWINPROBE_MASK_H
#define TWINPROBE_MASK_H
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "twinprobe/template.h"
#define TP_SECRET_MIN_LEN 6
static inline tp_err tp_secrets_mask_inplace(const tp_secrets *s, char **text)
{
    char *m;
    if (!*text || tp_secrets_none(s))
        return TP_OK;
    if (!(m = tp_secrets_mask(s, *text)))
        return TP_ERR_NOMEM;
    free(*text);
    *text = m;
    return TP_OK;
}
static inline json_t *tp_secrets_mask_json(const tp_secrets *s, json_t *v)
{
    (void)s;
    return v ? json_incref(v) : NULL;
}
static inline tp_err tp_secrets_mask_labelled(const tp_secrets *s, char **text)
{
    const char *sp;
    char *tail, *joined;
    size_t head;
    tp_err rc;
    if (tp_secrets_none(s) || !*text || !(sp = strchr(*text, ' ')))
        return TP_OK;
    head = (size_t)(sp - *text) + 1;
    if (!(tail = strdup(sp + 1)))
        return TP_ERR_NOMEM;
    if ((rc = tp_secrets_mask_inplace(s, &tail)) != TP_OK) {
        free(tail);
        return rc;
    }
    joined = malloc(head + strlen(tail) + 1);
    if (!joined) {
        free(tail);
        return TP_ERR_NOMEM;
    }
    memcpy(joined, *text, head);
    memcpy(joined + head, tail, strlen(tail) + 1);
    free(tail);
    free(*text);
    *text = joined;
    return TP_OK;
}
static inline int tp_secrets_short(const char *v) { return strlen(v) < TP_SECRET_MIN_LEN; }
#endif

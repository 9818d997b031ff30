/* Bounded PCRE2 matching: a step budget across start positions (auto-callouts),
 * PCRE2's match, depth and heap limits, and a subject size cap. */
#include "twinprobe/rematch.h"

struct budget {
    unsigned long *left;
    int spent;
};

/* Called before each pattern item PCRE2 tries: a positive return makes that
 * path fail, a negative one ends the match with that value. */
static int count_step(pcre2_callout_block *cb, void *data)
{
    struct budget *b = data;
    (void)cb;
    if (*b->left == 0) {
        b->spent = 1;
        return PCRE2_ERROR_CALLOUT;
    }
    (*b->left)--;
    return 0;
}

int tp_rematch(const pcre2_code *code, const char *subject, size_t len, pcre2_match_data *md,
               unsigned long *budget)
{
    struct budget b = {budget, 0};
    pcre2_match_context *mc;
    int rc;

    if (len > TP_REGEX_MAX_SUBJECT || *budget == 0)
        return TP_REMATCH_LIMIT;
    if (!(mc = pcre2_match_context_create(NULL)))
        return PCRE2_ERROR_NOMEMORY;
    pcre2_set_match_limit(mc, TP_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, TP_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(mc, TP_REGEX_HEAP_KIB);
    pcre2_set_callout(mc, count_step, &b);
    rc = pcre2_match(code, (PCRE2_SPTR)(subject ? subject : ""), subject ? len : 0, 0, 0, md, mc);
    pcre2_match_context_free(mc);
    if (b.spent || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT)
        return TP_REMATCH_LIMIT;
    return rc;
}

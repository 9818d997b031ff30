/* Large inputs for the unit tests that bound time on hostile sizes. Include
 * after <cmocka.h>. */
#ifndef TWINPROBE_TEST_BIG_INPUT_H
#define TWINPROBE_TEST_BIG_INPUT_H

#include <stdlib.h>
#include <string.h>

#define MB ((size_t)1 << 20)

/* A new string of total bytes: unit repeated, the last copy cut short. */
static char *repeat(const char *unit, size_t total)
{
    size_t n = strlen(unit), i;
    char *s = malloc(total + 1);
    assert_non_null(s);
    for (i = 0; i < total; i++)
        s[i] = unit[i % n];
    s[total] = '\0';
    return s;
}

#endif

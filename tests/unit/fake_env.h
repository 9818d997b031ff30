/* A deterministic template environment for unit tests: variables from a tp_vars
 * passed as ctx, no environment variables, random bits always 4, the clock at 0. */
#ifndef TWINPROBE_TEST_FAKE_ENV_H
#define TWINPROBE_TEST_FAKE_ENV_H

#include <stdint.h>

#include "twinprobe/template.h"
#include "twinprobe/vars.h"

static const char *var_lookup(void *ctx, const char *name)
{
    return tp_vars_get(ctx, name);
}

static const char *no_env(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

static uint64_t four(void *ctx)
{
    (void)ctx;
    return 4;
}

static int64_t epoch(void *ctx)
{
    (void)ctx;
    return 0;
}

#endif

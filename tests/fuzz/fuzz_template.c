/* libFuzzer harness: arbitrary bytes as a template -> tp_template_parse; a
 * template that parses is expanded with a fixed fake environment in every escape
 * mode (undefined names included). The input is also masked with a few secrets
 * (tp_secrets_mask), exercising the Aho-Corasick matcher.
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_template CORPUS_DIR. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/mask.h"
#include "twinprobe/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Defined: sku, user, q (with bytes every escape mode must treat). */
static const char *fake_var(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "sku") == 0)
        return "SKU-42";
    if (strcmp(name, "user") == 0)
        return "alice@example.com";
    if (strcmp(name, "q") == 0)
        return "a \"b\"\\c\n\t\x01 %/+&=\xC3\xA9\xFF";
    return NULL;
}

static const char *fake_env(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "SHOP_PASSWORD") == 0 ? "hunter2" : NULL;
}

static uint64_t fake_random(void *ctx)
{
    (void)ctx;
    return 0xFFFFFFFFFFFFFFFFull;
}

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return 1700000000123;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tp_template_env env = {fake_var, fake_env, fake_random, fake_now,
                                               NULL};
    static const enum tp_tpl_escape modes[] = {TP_ESC_NONE, TP_ESC_JSON, TP_ESC_URL};
    static tp_secrets *secrets;
    struct tp_error err = {0};
    tp_template *t = NULL;
    char *src, *out;

    if (!secrets) {
        if (!(secrets = tp_secrets_create()) || tp_secrets_add(secrets, "hunter2") != TP_OK ||
            tp_secrets_add(secrets, "a \"b\"/") != TP_OK ||
            tp_secrets_add(secrets, "hunter") != TP_OK)
            abort();
    }
    if (!(src = malloc(size + 1)))
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    if (tp_template_parse(src, &t, &err) == TP_OK) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            out = NULL;
            if (tp_template_expand(t, &env, modes[i], &out, &err) == TP_OK)
                free(tp_secrets_mask(secrets, out));
            free(out);
        }
    }
    tp_template_free(t);
    free(tp_secrets_mask(secrets, src));
    free(src);
    return 0;
}

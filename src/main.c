/* twinprobe: command-line dispatch only. */
#include <stdio.h>

#include "twinprobe/version.h"
#include <string.h>

#include "twinprobe/cli.h"
#include "twinprobe/schema.h"


static void usage(FILE *out)
{
    size_t n;
    const struct tp_cli_command *cmds = tp_cli_commands(&n);
    fprintf(out,
            "usage: twinprobe [--help] [--version] COMMAND [OPTIONS] [ARGS]\n\n"
            "Replays scripted customer journeys against a stable and a canary deployment,\n"
            "compares them and says whether the canary is worse.\n\ncommands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "\n'twinprobe COMMAND --help' shows a command's options; man twinprobe has the "
                 "rest.\nExit status: 0 passed, 1 failed or worse, 2 usage or configuration "
                 "error, 3 runtime error.\n");
}

int main(int argc, char **argv)
{
    const struct tp_cli_command *cmd;
    const char *name;

    if (argc < 2) {
        usage(stderr);
        return TP_EXIT_USAGE;
    }
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("twinprobe %s\n", TP_VERSION);
        return TP_EXIT_OK;
    }
    if (name[0] == '-') {
        fprintf(stderr, "twinprobe: unknown option '%s'\nTry 'twinprobe --help'.\n", name);
        return TP_EXIT_USAGE;
    }
    cmd = tp_cli_find(name);
    if (!cmd) {
        size_t n;
        const struct tp_cli_command *cmds = tp_cli_commands(&n);
        const char *names[16];
        for (size_t i = 0; i < n && i < 16; i++)
            names[i] = cmds[i].name;
        const char *hint = tp_schema_suggest(name, names, n < 16 ? n : 16);
        if (hint)
            fprintf(stderr, "twinprobe: unknown command '%s' (did you mean '%s'?)\n", name, hint);
        else
            fprintf(stderr, "twinprobe: unknown command '%s'\n", name);
        fprintf(stderr, "Try 'twinprobe --help'.\n");
        return TP_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}

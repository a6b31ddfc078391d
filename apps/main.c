/* doubt: the command-line front end. One file per subcommand; this one dispatches. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"predict", doubt_cmd_predict, "segmentation, depth and uncertainty maps for images"},
    {"synth", doubt_cmd_synth, "render a synthetic scene dataset"},
    {"info", doubt_cmd_info, "describe a weights file"},
    {"bench", doubt_cmd_bench, "time a training step or MC inference"},
    {"train", doubt_cmd_train, "train segmentation + depth with learned uncertainty"},
    {"eval", doubt_cmd_eval, "evaluate accuracy and uncertainty quality on a dataset"},
    {"inspect", doubt_cmd_inspect, "side-by-side panels and an HTML report of predictions"},
    {NULL, NULL, NULL},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: doubt <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(to, "\n'doubt <subcommand> --help' for its options; 'doubt --version'.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DOUBT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("doubt %s\n", DOUBT_VERSION);
        return DOUBT_EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return DOUBT_EXIT_OK;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "doubt: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return DOUBT_EXIT_USAGE;
}

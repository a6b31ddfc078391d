/* Subcommands of the doubt command. Each takes argv with argv[0] = its own name and returns
 * the process exit status: 0 ok, 1 a failure on some input (the rest was processed), 2 bad
 * usage. */
#ifndef DOUBT_APPS_COMMANDS_H
#define DOUBT_APPS_COMMANDS_H

enum { DOUBT_EXIT_OK = 0, DOUBT_EXIT_FAILURE = 1, DOUBT_EXIT_USAGE = 2 };

int doubt_cmd_predict(int argc, char **argv);
int doubt_cmd_synth(int argc, char **argv);
int doubt_cmd_info(int argc, char **argv);
int doubt_cmd_train(int argc, char **argv);
int doubt_cmd_bench(int argc, char **argv);
int doubt_cmd_eval(int argc, char **argv);
int doubt_cmd_inspect(int argc, char **argv);

#endif

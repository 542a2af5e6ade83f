/* cli.h — the `ctrain` subcommands as library functions: each takes its
 * argument vector (after the subcommand name), does its work through the
 * public modules, prints results on stdout, and returns 0 or a negative
 * ct_err code (main.c maps codes to exit statuses and is the only caller of
 * exit()).  CT_EUSAGE / CT_ECONFIG become exit status 2, the rest 1.
 */
#ifndef CT_CLI_H
#define CT_CLI_H

#include "../util/err.h"

int cli_train(int argc, char **argv, ct_err *e);
int cli_resume(int argc, char **argv, ct_err *e);
int cli_export(int argc, char **argv, ct_err *e);
int cli_inspect(int argc, char **argv, ct_err *e);
int cli_eval(int argc, char **argv, ct_err *e);
int cli_predict(int argc, char **argv, ct_err *e);
int cli_convert(int argc, char **argv, ct_err *e);
int cli_status(int argc, char **argv, ct_err *e);
/* Returns 1 (exit status 1, no error message) when the weights differ. */
int cli_compare(int argc, char **argv, ct_err *e);
int cli_plot(int argc, char **argv, ct_err *e);
int cli_report(int argc, char **argv, ct_err *e);
int cli_data(int argc, char **argv, ct_err *e);

/* How many times a repeatable option (--set, --rename) may be given. */
#define CLI_MAX_REPEAT 64
/* Appends v to list (CLI_MAX_REPEAT slots, *n used) for the repeatable option
 * opt; CT_EUSAGE "too many OPT options (64 at most)" when it is full.  Every
 * subcommand counts its repeats with this, so all say the same. */
int cli_repeat(const char **list, int *n, const char *opt, const char *v, ct_err *e);

/* CT_EUSAGE "unexpected argument 'ARG' (see ctrain CMD --help)". */
int cli_unexpected(const char *arg, const char *cmd, ct_err *e);

/* Usage text of a subcommand (NULL: the overview). */
const char *cli_usage(const char *cmd);
/* Signal that interrupted the last train/resume (exit 128 + it: 130/143/129), or 0. */
int cli_interrupt_signal(void);

#endif

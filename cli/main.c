/* main.c — the `ctrain` command: parses the subcommand and global flags,
 * calls the library (cli.h), and maps the result to an exit status.  The only
 * place in ctrain that calls exit(). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "cli.h"
#include "../train/config.h"
#include "kernel.h"

typedef int (*command_fn)(int, char **, ct_err *);

static command_fn find_command(const char *name)
{
	static const struct {
		const char *name;
		command_fn fn;
	} cmds[] = {
		{"train", cli_train},     {"resume", cli_resume}, {"export", cli_export},
		{"inspect", cli_inspect}, {"eval", cli_eval},     {"predict", cli_predict},
		{"convert", cli_convert}, {"status", cli_status}, {"compare", cli_compare},
		{"plot", cli_plot},       {"report", cli_report}, {"data", cli_data},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(name, cmds[i].name) == 0)
			return cmds[i].fn;
	return NULL;
}

/* Removes -q/-v/--help from argv, applying them; returns 1 if help was asked.
 * What follows `--` (the launcher of --restarts) is left as it is. */
static int take_global_flags(int *argc, char **argv)
{
	int help = 0, out = 0, rest = 0;
	for (int i = 0; i < *argc; i++) {
		if (rest || strcmp(argv[i], "--") == 0) {
			argv[out++] = argv[i];
			rest = 1;
		} else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			ct_log_set_level(CT_LOG_WARN);
		else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
			ct_log_set_level(CT_LOG_DEBUG);
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			help = 1;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	return help;
}

static int exit_status(int rc)
{
	if (rc >= 0) /* 0, or a verdict such as compare's 1 */
		return rc;
	if (rc == CT_EINTERRUPTED)
		return 128 + (cli_interrupt_signal() ? cli_interrupt_signal() : SIGINT);
	return rc == CT_EUSAGE || rc == CT_ECONFIG ? 2 : 1;
}

/* Results go to stdout through stdio's buffer, so a full disk or a closed
 * pipe shows only here: flush and check once, at exit, and fail a command
 * whose output was lost. */
static int check_stdout(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	ct_log_error("stdout: write failed: %s", strerror(errno ? errno : EIO));
	return status ? status : 1;
}

int main(int argc, char **argv)
{
	kernel_set_argv(argc, argv);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		(void)fputs(cli_usage(argc > 2 ? argv[2] : NULL), stdout); /* checked at exit */
		exit(check_stdout(argc < 2 ? 2 : 0));
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ctrain %s\n", CTRAIN_VERSION);
		exit(check_stdout(0));
	}
	command_fn fn = find_command(argv[1]);
	if (!fn) {
		(void)fprintf(stderr, "ERROR unknown command '%s'\n\n%s", argv[1], cli_usage(NULL));
		exit(2);
	}
	int sub_argc = argc - 2;
	char **sub_argv = argv + 2;
	if (take_global_flags(&sub_argc, sub_argv)) {
		(void)fputs(cli_usage(argv[1]), stdout); /* checked at exit */
		if (strcmp(argv[1], "train") == 0)
			ct_config_print_reference(stdout);
		exit(check_stdout(0));
	}
	ct_err e = {0};
	int rc = fn(sub_argc, sub_argv, &e);
	if (rc < 0 && rc != CT_EINTERRUPTED)
		ct_log_error("%s", e.msg);
	exit(check_stdout(exit_status(rc)));
}

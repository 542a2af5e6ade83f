/* cli_plot.c — `ctrain plot DIR... -o OUT.svg|OUT.png` (cli/plot.h). */
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "cli.h"
#include "plot.h"

int cli_plot(int argc, char **argv, ct_err *e)
{
	const char *out = NULL;
	char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
	if (!dirs)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	size_t n = 0;
	int rc = 0;
	for (int i = 0; rc == 0 && i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] == '-')
			rc = ct_errf(e, CT_EUSAGE, "unknown argument '%s' (see ctrain plot --help)",
				     argv[i]);
		else
			dirs[n++] = argv[i];
	}
	if (rc == 0 && (!out || n == 0))
		rc = ct_errf(e, CT_EUSAGE, "usage: ctrain plot DIR... -o OUT.svg|OUT.png");
	if (rc == 0)
		rc = plot_runs(dirs, n, out, e);
	if (rc == 0)
		ct_log_info("wrote %s (%zu run%s)", out, n, n == 1 ? "" : "s");
	free(dirs);
	return rc;
}

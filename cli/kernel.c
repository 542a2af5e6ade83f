#include "kernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/log.h"
#include "../ckpt/fields.h"

#define REEXEC_ENV "CTRAIN_KERNEL_REEXEC"

static char **g_argv;

void kernel_set_argv(int argc, char **argv)
{
	(void)argc;
	g_argv = argv;
}

static int cpu(const char *feature)
{
	__builtin_cpu_init();
	/* __builtin_cpu_supports needs a literal; map the few we use. */
	if (strcmp(feature, "sse3") == 0)
		return __builtin_cpu_supports("sse3");
	if (strcmp(feature, "ssse3") == 0)
		return __builtin_cpu_supports("ssse3");
	if (strcmp(feature, "sse4.2") == 0)
		return __builtin_cpu_supports("sse4.2");
	if (strcmp(feature, "avx") == 0)
		return __builtin_cpu_supports("avx");
	if (strcmp(feature, "avx2") == 0)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (strcmp(feature, "avx512") == 0)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
	if (strcmp(feature, "avx512bf16") == 0)
		return cpu("avx512") && __builtin_cpu_supports("avx512bf16");
	return 0;
}

/* 1 if this CPU can run the named kernel, 0 if not, -1 if the name is unknown. */
static int kernel_cpu_supports(const char *name)
{
	static const struct {
		const char *name, *needs;
	} table[] = {
		{"Prescott", "sse3"},    {"Core2", "ssse3"},           {"Penryn", "ssse3"},
		{"Dunnington", "ssse3"}, {"Nehalem", "sse4.2"},        {"Atom", "ssse3"},
		{"Sandybridge", "avx"},  {"Haswell", "avx2"},          {"Zen", "avx2"},
		{"SkylakeX", "avx512"},  {"Cooperlake", "avx512bf16"},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcasecmp(name, table[i].name) == 0)
			return cpu(table[i].needs);
	return -1;
}

int kernel_ensure(const char *want, const char *why, ct_err *e)
{
	(void)e;
	const char *have = ct_blas_core_name();
	if (!want || !*want || strcasecmp(want, have) == 0)
		return 0;
	if (getenv(REEXEC_ENV)) {
		ct_log_warn("%s asks for OpenBLAS kernel %s, but OpenBLAS still chose %s after "
			    "OPENBLAS_CORETYPE=%s: results will differ in the last bits",
			    why, want, have, want);
		return 0;
	}
	int ok = kernel_cpu_supports(want);
	if (ok <= 0) {
		ct_log_warn(
			"%s was computed with OpenBLAS kernel %s, which %s; continuing with %s: "
			"results will differ in the last bits",
			why, want, ok < 0 ? "ctrain does not know" : "this CPU cannot run", have);
		return 0;
	}
	if (!g_argv) {
		ct_log_warn(
			"cannot re-execute to select OpenBLAS kernel %s (no argv); continuing with %s",
			want, have);
		return 0;
	}
	ct_log_info("re-executing with OPENBLAS_CORETYPE=%s (%s; this process got %s)", want, why,
		    have);
	(void)fflush(NULL); /* stdout/stderr before exec; a failure loses only log lines */
	if (setenv("OPENBLAS_CORETYPE", want, 1) != 0 || setenv(REEXEC_ENV, "1", 1) != 0) {
		ct_log_warn("setenv failed: %s; continuing with %s", strerror(errno), have);
		return 0;
	}
	execv("/proc/self/exe", g_argv);
	ct_log_warn("re-executing %s failed: %s; continuing with kernel %s", g_argv[0],
		    strerror(errno), have);
	return 0;
}

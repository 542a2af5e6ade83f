/* kernel.h — keeping a run on one OpenBLAS kernel.
 *
 * OpenBLAS picks its kernel ("Haswell", "SkylakeX", ...) when the library
 * loads, from the CPU or from OPENBLAS_CORETYPE; different kernels round
 * differently.  A checkpoint records the kernel; on resume (or with
 * train.kernel set for a new run) kernel_ensure() re-executes ctrain with
 * OPENBLAS_CORETYPE set to that kernel when this CPU can run it, so the run
 * continues bit-exactly.  When it cannot (the CPU lacks the instructions, the
 * name is unknown, or the re-executed process still got another kernel) it
 * warns that results will differ and carries on.
 *
 *     kernel_set_argv(argc, argv);              // once, in main
 *     kernel_ensure("Haswell", "checkpoint ckpt-...h5", &e);   // returns only if no re-exec
 */
#ifndef CT_KERNEL_H
#define CT_KERNEL_H

#include "../util/err.h"

void kernel_set_argv(int argc, char **argv);
/* why: what asked for the kernel (for the log lines). */
int kernel_ensure(const char *want, const char *why, ct_err *e);

#endif

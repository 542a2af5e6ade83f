/* source_best.c — `--best` of export/eval/predict: the best checkpoint of a
 * run directory by checkpoint.monitor, as keep_best recorded it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/log.h"
#include "../ckpt/best.h"
#include "source.h"

int source_best(const char *dir, char **path, ct_err *e)
{
	*path = NULL;
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return ct_errf(e, CT_EUSAGE, "--best needs a run directory, not %s", dir);
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	char *newest = NULL;
	int64_t step = -1;
	int rc = ct_ckpt_find_latest(ck, &newest, &step, e);
	if (rc < 0)
		return ct_err_prefix(e, "--best");
	/* the newest valid checkpoint carries the kept list, best first */
	ct_h5c_reader *r = NULL;
	int64_t n = 0, steps[CT_BEST_MAX] = {0};
	double values[CT_BEST_MAX] = {0};
	ct_h5c_field fc = {"/meta/best_count", CT_H5C_I64, 0, {0}, &n};
	ct_h5c_field fs = {"/meta/best_steps", CT_H5C_I64, 1, {CT_BEST_MAX}, steps};
	ct_h5c_field fv = {"/meta/best_values", CT_H5C_F64, 1, {CT_BEST_MAX}, values};
	rc = ct_h5c_open(newest, &r, e);
	if (rc == 0)
		rc = ct_h5c_read(r, &fc, e);
	if (rc == CT_ENOTFOUND) { /* written before keep_best existed */
		n = 0;
		rc = 0;
	}
	if (rc == 0 && n > 0 && n <= CT_BEST_MAX)
		rc = ct_h5c_read(r, &fs, e);
	if (rc == 0 && n > 0 && n <= CT_BEST_MAX)
		rc = ct_h5c_read(r, &fv, e);
	ct_h5c_close(r);
	if (rc == 0 && (n <= 0 || n > CT_BEST_MAX))
		rc = ct_errf(e, CT_ENOTFOUND,
			     "%s: no best checkpoint recorded (checkpoint.keep_best = 0, or no "
			     "evaluation yet)",
			     newest);
	if (rc < 0) {
		free(newest);
		return rc;
	}
	*path = ct_ckpt_path_for_step(ck, steps[0]);
	if (!*path) {
		free(newest);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	rc = ct_h5c_verify_file(*path, e);
	if (rc < 0) {
		ct_err_prefix(e, "best checkpoint (step %lld, recorded in %s)", (long long)steps[0],
			      newest);
		free(*path);
		*path = NULL;
	} else
		ct_log_info(
			"using %s: best checkpoint (step %lld, monitored value %g; recorded in %s)",
			*path, (long long)steps[0], values[0], newest);
	free(newest);
	return rc;
}

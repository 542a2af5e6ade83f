/* resume_from.c — resume --from, and --init-from ... --with-optimizer (see
 * resume_from.h). */
#include "resume_from.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/log.h"
#include "../ckpt/fields.h"

/* Renames path to path.aside-<step>[.N], never over an existing file. */
static int rename_aside(const char *path, int64_t step, ct_err *e)
{
	char to[4400];
	for (int k = 0; k < 1000; k++) {
		if (k == 0)
			snprintf(to, sizeof to, "%s.aside-%lld", path, (long long)step);
		else
			snprintf(to, sizeof to, "%s.aside-%lld.%d", path, (long long)step, k);
		if (access(to, F_OK) == 0)
			continue;
		if (rename(path, to) != 0)
			return ct_errno(e, CT_EIO, errno, "%s: cannot rename to %s", path, to);
		ct_log_info("moved %s aside to %s", path, to);
		return 0;
	}
	return ct_errf(e, CT_EIO, "%s: too many files already set aside", path);
}

int resume_from_select(const char *run_dir, const char *from, ct_err *e)
{
	const char *base = strrchr(from, '/');
	base = base ? base + 1 : from;
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", run_dir);
	ct_ckpt_entry *v = NULL;
	size_t n = 0;
	int rc = ct_ckpt_list(ck, &v, &n, e);
	if (rc < 0)
		return rc;
	int64_t step = -1;
	for (size_t i = 0; i < n; i++) {
		const char *b = strrchr(v[i].path, '/');
		if (strcmp(b ? b + 1 : v[i].path, base) == 0)
			step = v[i].step;
	}
	if (step < 0) {
		ct_ckpt_list_free(v, n);
		return ct_errf(e, CT_EUSAGE, "--from %s: no such checkpoint in %s", from, ck);
	}
	char *path = ct_ckpt_path_for_step(ck, step);
	if (!path) {
		ct_ckpt_list_free(v, n);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	rc = ct_h5c_verify_file(path, e);
	if (rc < 0)
		ct_err_prefix(e, "--from");
	/* the later ones, oldest first (v is newest first) */
	for (size_t i = n; rc == 0 && i-- > 0;)
		if (v[i].step > step)
			rc = rename_aside(v[i].path, step, e);
	if (rc == 0)
		rc = ct_atomic_fsync_dir(ck, e);
	char mdl[4200];
	snprintf(mdl, sizeof mdl, "%s/model.safetensors", run_dir);
	if (rc == 0 && access(mdl, F_OK) == 0) {
		rc = rename_aside(mdl, step, e);
		if (rc == 0)
			rc = ct_atomic_fsync_dir(run_dir, e);
	}
	if (rc == 0)
		ct_log_info("resuming from the chosen %s (step %lld)", path, (long long)step);
	free(path);
	ct_ckpt_list_free(v, n);
	return rc;
}

int optimizer_load_checkpoint(ct_train_state *s, const char *path, ct_err *e)
{
	ct_ckpt_fields f;
	int rc = ct_ckpt_fields_init(&f, e);
	if (rc < 0)
		return rc;
	rc = ct_ckpt_fields_add_optim(&f, "/optim", &s->opt, &s->model.ps, e);
	if (rc == 0)
		rc = ct_ckpt_fields_read(&f, path, e);
	if (rc == 0)
		rc = ct_ckpt_fields_apply(&f, e);
	if (rc == 0)
		ct_log_info("--with-optimizer: %s state of %s (its step %lld) loaded",
			    ct_optim_name((int)s->opt.kind), path, (long long)s->opt.step);
	else
		ct_err_prefix(e, "--with-optimizer %s", path);
	ct_ckpt_fields_release(&f);
	return rc;
}

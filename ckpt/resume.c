/* resume.c — restore the newest valid checkpoint into the registered state:
 * clean up the temporary files of interrupted writes, find the newest valid
 * DIR/ckpt-<step>.h5 (discover.h: damaged ones are moved aside with a WARN),
 * verify and parse it into the fields' copies (fields.h), run the caller's
 * check (ckpt_manager_opts.check_restore: e.g. the CLI's frozen config), then
 * apply every field at once, and warn when the BLAS kernel differs.  The one
 * resume path of the library and of `ctrain resume`. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "../util/atomic.h"
#include "discover.h"
#include "manager_internal.h"

int ct_ckpt_dir_has_any(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno != ENOENT; /* unreadable: let the restore say why */
	int found = 0;
	const struct dirent *ent;
	while (!found && (ent = readdir(d)) != NULL)
		found = strncmp(ent->d_name, "ckpt-", 5) == 0;
	closedir(d);
	return found;
}

static int restore_path(ct_ckpt_manager *m, const char *path, int64_t named_step, ct_err *e)
{
	int rc = ct_ckpt_fields_read(&m->f, path, e);
	if (rc == 0 && m->f.step != named_step)
		rc = ct_errf(e, CT_ECORRUPT, "%s: holds step %lld but is named for step %lld", path,
			     (long long)m->f.step, (long long)named_step);
	if (rc == 0 && m->o.check_restore)
		rc = m->o.check_restore(m->o.hook_ctx, &m->f, path, e);
	if (rc == 0)
		rc = ct_ckpt_fields_apply(&m->f, e);
	if (rc < 0)
		return rc;
	ct_log_info("resuming from %s (step %lld, written by ctrain %s)", path,
		    (long long)named_step, m->f.version);
	if (strcmp(m->f.blas_core, ct_blas_core_name()) != 0)
		ct_log_warn(
			"%s was written with OpenBLAS core %s, this process uses %s: results may "
			"differ in the last bits from an uninterrupted run",
			path, m->f.blas_core, ct_blas_core_name());
	ct_ckpt_manager_mark_saved(m, named_step);
	return 0;
}

int ct_ckpt_manager_restore_latest(ct_ckpt_manager *m, int64_t *step, ct_err *e)
{
	*step = -1;
	int rc = ct_ckpt_manager_wait(m, e);
	if (rc < 0)
		return rc;
	/* The one clean-up of a checkpoint directory's leftovers. */
	int removed = ct_atomic_cleanup_tmp(m->dir, NULL);
	if (removed > 0)
		ct_log_info("removed %d temporary file(s) left in %s by an interrupted write",
			    removed, m->dir);
	if (!ct_ckpt_dir_has_any(m->dir))
		return 0; /* a fresh start */
	char *path;
	int64_t at;
	if ((rc = ct_ckpt_find_latest(m->dir, &path, &at, e)) < 0)
		return rc;
	rc = restore_path(m, path, at, e);
	free(path);
	if (rc < 0)
		return rc;
	*step = at;
	return 1;
}

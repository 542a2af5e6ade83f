/* fields.h — the one table of what a checkpoint holds: named fields that
 * point at live training state, each with a private copy, so that writing
 * and restoring walk the same list and a field cannot be saved and forgotten
 * on load.  The CLI's train_state (train/state_ckpt.c) and a user's own loop
 * (ckpt/manager.h) both describe their state this way; ckpt/write.c
 * writes and ckpt/resume.c restores it.
 *
 *     ct_ckpt_fields f;
 *     ct_ckpt_fields_init(&f);
 *     ct_ckpt_fields_add_params(&f, "/model", &ps, ps.data, &e);  // /model/<name>, float32
 *     ct_ckpt_fields_add(&f, "/meta/epoch", CT_H5C_I64, 0, NULL, &epoch, 0, &e);
 *     ...between two steps:
 *     ct_ckpt_fields_take(&f, step);             // memcpy of every field into its copy
 *     ct_ckpt_fields_serialize(&f, &im, &e);     // any thread: reads copies only
 *     ct_atomic_write_iov(path, im.seg, (int)im.n_seg, &e);
 *   or, writing on the training thread (nothing to copy the state for):
 *     ct_ckpt_fields_take_live(&f, step);        // copies small fields only
 *     ct_ckpt_fields_serialize(&f, &im, &e);     // large ones are referenced in the state
 *     ct_atomic_write_iov(...);                  // before the state changes again
 *     ...in the resumed process, after the same registrations:
 *     ct_ckpt_fields_read(&f, path, &e);         // verify, parse, check shapes: into copies
 *     ct_ckpt_fields_apply(&f, &e);              // checks first, then copies back to the state
 *     ct_ckpt_fields_release(&f);
 *
 * Every table starts with the header every ctrain checkpoint has: root
 * attributes format = "ctrain-checkpoint" and format_version, /meta/step,
 * and attributes /meta@version and /meta@blas_core (after a read, f.step,
 * f.version and f.blas_core hold the file's values).
 *
 * Field flags: CT_CKPT_OPTIONAL may be missing from a file (a field added after
 * checkpoints were already written; the state keeps its value);
 * CT_CKPT_MATCH (strings) must equal the live value, else apply fails with
 * CT_EMISMATCH (e.g. the optimizer's name); CT_CKPT_STASH fields belong to the
 * table's owner (derived values it refreshes before take), and read sets
 * them at once.  Hooks adapt objects whose state is not plain memory (the
 * loader: take copies its position, check validates a restored one before
 * anything is applied, apply rebuilds its permutation).
 */
#ifndef CT_CKPT_FIELDS_H
#define CT_CKPT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "h5c.h"
#include "../data/loader.h"
#include "../nn/optim.h"
#include "../nn/params.h"
#include "../util/rng.h"
#include "../util/err.h"
#include "best.h"

#define CT_CKPT_FORMAT "ctrain-checkpoint"
#define CT_CKPT_FORMAT_VERSION 2

enum { CT_CKPT_OPTIONAL = 1, CT_CKPT_MATCH = 2, CT_CKPT_STASH = 4 };

typedef struct ct_ckpt_field {
	char *path; /* "/model/layers.0.weight", "/optim@name" */
	ct_h5c_type type;
	int ndim;
	int64_t shape[CT_H5C_MAX_DIMS];
	void *live; /* the state; CT_H5C_STR: a char ** (malloc'ed string) */
	void *copy; /* the copy (CT_H5C_STR: a char *, the copy itself) */
	size_t bytes;
	int flags;
	int present;   /* read found it (always 1 after take) */
	int from_live; /* take_live left it in the state: serialize uses live */
} ct_ckpt_field;

typedef struct ct_ckpt_hook {
	void (*take)(void *ctx);            /* before the copies are taken */
	int (*check)(void *ctx, ct_err *e); /* after read, before apply writes */
	void (*apply)(void *ctx);           /* after apply wrote the fields */
	void (*release)(void *ctx);         /* frees what ctx holds (may be NULL) */
	void *ctx;                          /* malloc'ed, freed by release */
} ct_ckpt_hook;

typedef struct ct_ckpt_fields {
	ct_ckpt_field *v;
	size_t n, cap;
	ct_ckpt_hook *hooks;
	size_t n_hooks;
	ct_h5c_field *h5; /* the copies as h5c fields, rebuilt by serialize */
	/* header (stash fields) */
	char *format;
	int64_t format_version, step;
	char *version, *blas_core;
	int best_steps; /* index of /meta/best_steps (ct_ckpt_fields_add_best), -1 */
} ct_ckpt_fields;

/* The current OpenBLAS core name ("Haswell", ...). */
CT_API const char *ct_blas_core_name(void);

/* Registers the header fields; CT_ENOMEM. */
CT_API int ct_ckpt_fields_init(ct_ckpt_fields *f, ct_err *e);
CT_API void ct_ckpt_fields_release(ct_ckpt_fields *f);

/* Registers one field (shape NULL for scalars and strings).  The path must
 * be new (CT_ASSERT).  CT_ENOMEM. */
CT_API int ct_ckpt_fields_add(ct_ckpt_fields *f, const char *path, ct_h5c_type type, int ndim,
			      const int64_t *shape, void *live, int flags, ct_err *e);
/* A string attribute whose value the table keeps (e.g. a name that must
 * match on restore, with CT_CKPT_MATCH). */
CT_API int ct_ckpt_fields_add_const_str(ct_ckpt_fields *f, const char *path, const char *value,
					int flags, ct_err *e);
/* Takes ownership of h->ctx (freed by release, also on failure). */
CT_API int ct_ckpt_fields_add_hook(ct_ckpt_fields *f, const ct_ckpt_hook *h, ct_err *e);

/* The field registered under path, or NULL. */
CT_API ct_ckpt_field *ct_ckpt_fields_find(const ct_ckpt_fields *f, const char *path);

/* Adapters for the library's objects (ckpt/adapters.c). */
/* One float32 dataset per parameter: <group>/<name>, data at base + offset
 * (base is ps->data, or an optimizer buffer of the same layout). */
CT_API int ct_ckpt_fields_add_params(ct_ckpt_fields *f, const char *group, const ct_params *ps,
				     float *base, ct_err *e);
/* <group>/m/<name>, <group>/v/<name> (the buffers the optimizer has),
 * <group>/step, and attribute <group>@name that must match on restore. */
CT_API int ct_ckpt_fields_add_optim(ct_ckpt_fields *f, const char *group, ct_optim *o,
				    const ct_params *layout, ct_err *e);
/* <group>/epoch, <group>/cursor, <group>/shuffle_rng (the loader's position). */
CT_API int ct_ckpt_fields_add_loader(ct_ckpt_fields *f, const char *group, ct_loader *ld,
				     ct_err *e);
/* uint64[4] stream state. */
CT_API int ct_ckpt_fields_add_rng(ct_ckpt_fields *f, const char *path, ct_rng *r, ct_err *e);
/* The tracker's state: /meta/best_metric, /meta/evals_since_best and
 * (optional, for checkpoints written before keep_best) /meta/best_count,
 * /meta/best_steps int64[CT_BEST_MAX], /meta/best_values float64[CT_BEST_MAX].
 * Its copy of best_steps is what retention protects (f->best_steps). */
CT_API int ct_ckpt_fields_add_best(ct_ckpt_fields *f, ct_best_tracker *b, ct_err *e);

/* Refreshes the header (step, version, BLAS core), runs the take hooks and
 * copies every field.  Cheap (memcpy), meant for the training thread. */
CT_API void ct_ckpt_fields_take(ct_ckpt_fields *f, int64_t step);
/* ct_ckpt_fields_take without copying the fields of CT_H5C_REF_MIN bytes or more
 * (parameters, moments): the next serialize references them in the state,
 * which must not change until the image is written.  For synchronous
 * checkpoints, where a copy would be written once and thrown away. */
CT_API void ct_ckpt_fields_take_live(ct_ckpt_fields *f, int64_t step);
/* Builds the file (HDF5 image + trailer) of what the last take took into im
 * (see ct_h5c_image_build: large fields are referenced, not copied, so the
 * copies, or the state after take_live, must not change until im is
 * written). */
CT_API int ct_ckpt_fields_serialize(ct_ckpt_fields *f, ct_h5c_image *im, ct_err *e);
/* Verifies and parses path into the copies: CT_ECORRUPT for a damaged file,
 * a wrong format or a field of another shape, CT_EUNSUPPORTED for a newer
 * format_version, CT_ENOTFOUND for a missing field; messages name the file.
 * The state is not touched. */
CT_API int ct_ckpt_fields_read(ct_ckpt_fields *f, const char *path, ct_err *e);
/* The same from a whole file's bytes in memory (e.g. broadcast by rank 0 of
 * a data-parallel job); name is used in messages. */
CT_API int ct_ckpt_fields_read_buffer(ct_ckpt_fields *f, const void *buf, size_t len,
				      const char *name, ct_err *e);
/* After a successful read: CT_CKPT_MATCH checks and check hooks, then copies
 * every field back into the state and runs the apply hooks.  On failure the
 * state is unchanged. */
CT_API int ct_ckpt_fields_apply(ct_ckpt_fields *f, ct_err *e);

#endif

/* pth.h — reads PyTorch torch.save files (.pth/.pt) without running any of
 * their code, giving exactly the tensors torch.load would give.
 *
 * A torch.save file (torch >= 1.6) is a zip archive: <prefix>/data.pkl is a
 * pickle of the saved object whose tensors refer, through persistent ids, to
 * raw little-endian storages <prefix>/data/<key>.  The pickle is read by the
 * restricted unpickler (formats/pickle.h), which refuses any global outside an
 * allow-list; then every tensor view (storage offset, sizes, strides, possibly
 * shared storages or stride-0 expansions) is checked against its storage and
 * copied out as a contiguous row-major tensor.
 *
 *     ct_tdict d; char **skipped; size_t n_skipped;
 *     if (pth_read("model.pth", &d, &skipped, &n_skipped, &e) < 0) { ... e.msg ... }
 *     ... d.v[i] has name, dtype, shape and contiguous data ...
 *     pth_skipped_free(skipped, n_skipped);
 *     ct_tdict_release(&d);
 *
 * Naming: the top-level object must be a dict.  Tensors at any depth under it
 * are named by the keys (and list indices) leading to them joined with '.',
 * e.g. "optimizer.state.0.exp_avg".  Every other leaf is reported as a skipped
 * entry "name (type)"; a container holding no tensor is reported once, as
 * "optimizer.param_groups (list)".
 *
 * pth_read_state_dict applies what model loading wants on top: when the
 * top-level dict has a key "state_dict", "model_state_dict" or "model" (tried
 * in this order) whose value is a dict holding tensors, only that dict is read
 * and the other top-level keys are skipped entries; leading "module." and
 * "_orig_mod." (DataParallel, torch.compile) are stripped from tensor names,
 * repeatedly.
 *
 * All functions initialise *out, and leave it empty (and *skipped NULL) on
 * failure.  skipped may be NULL when the caller does not want the list.
 * Errors: CT_ENOTFOUND/CT_EIO (cannot read the file), CT_ECORRUPT (malformed or
 * hostile file, message names it), CT_EUNSUPPORTED (legacy format, TorchScript
 * archive, big-endian data, unsupported dtype, top level not a dict),
 * CT_EMISMATCH (two tensors end up with the same name), CT_ENOMEM.
 */
#ifndef CT_PTH_H
#define CT_PTH_H

#include <stddef.h>

#include "../util/err.h"
#include "tdict.h"

#define PTH_MAX_PICKLE ((size_t)1 << 30) /* bytes of data.pkl */
/* Naming tensors visits each value once per path to it; shared references
 * may repeat values, within 4 x the values unpickled + 64 Ki visits. */
#define PTH_VISIT_FACTOR 4
#define PTH_VISIT_SLACK ((size_t)1 << 16)
/* Views can repeat storage bytes (stride 0, shared storages): the tensors of
 * one file may total at most 4 x its storage bytes + 16 MiB. */
#define PTH_OUT_FACTOR 4
#define PTH_OUT_SLACK ((size_t)16 << 20)

int pth_read(const char *path, ct_tdict *out, char ***skipped, size_t *n_skipped, ct_err *e);
/* Same from a whole file image in memory; name_for_errors stands for the path. */
int pth_parse(const void *buf, size_t len, const char *name_for_errors, ct_tdict *out,
	      char ***skipped, size_t *n_skipped, ct_err *e);
int pth_read_state_dict(const char *path, ct_tdict *out, char ***skipped, size_t *n_skipped,
			ct_err *e);
void pth_skipped_free(char **skipped, size_t n_skipped);

/* The layer under the zip container, for tests and the fuzzer: unpickles a
 * data.pkl image and asks get() about each storage record <prefix>/data/<key>.
 * get() first receives data == NULL for every record and must then only check
 * that it exists with exactly nbytes; later calls must set *data to a malloc'ed
 * buffer of nbytes (freed here).  Failures fill e with a message naming the
 * file and the record. */
typedef enum { PTH_ALL = 0, PTH_STATE_DICT = 1 } pth_mode;
typedef int (*pth_storage_fn)(void *ctx, const char *key, size_t nbytes, void **data, ct_err *e);
int pth_parse_pickle(const void *pkl, size_t len, const char *name_for_errors, pth_mode mode,
		     pth_storage_fn get, void *ctx, ct_tdict *out, char ***skipped,
		     size_t *n_skipped, ct_err *e);

#endif

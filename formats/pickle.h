/* pickle.h — a restricted unpickler for the data.pkl inside torch.save files.
 * It builds a small tagged tree of values and never imports or calls anything.
 *
 * Python's pickle is a stack machine whose GLOBAL and REDUCE opcodes import and
 * call arbitrary functions, so loading an untrusted .pth with it runs code.
 * This reader implements only the opcodes torch.save emits (protocol 2, plus
 * FRAME/MEMOIZE/STACK_GLOBAL/... of protocols 3-5) and resolves GLOBAL against
 * an allow-list: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * _rebuild_parameter[_with_state], the torch.*Storage types and torch dtypes.
 * Any other global is rejected when the opcode naming it is read.  REDUCE is
 * interpreted, not executed: OrderedDict() makes a dict, _rebuild_tensor_v2(...)
 * makes a tensor node once its arguments have the right types and signs.
 *
 * Every resource is capped (nodes, container slots, memo, stack, MARKs, value
 * nesting), all values live in one arena that pickle_free releases with a
 * flat loop, and no input can make the reader look outside its buffer.
 * Memo references can still make the tree a DAG or even a cycle, so callers
 * walking it must limit their depth (PICKLE_MAX_DEPTH) and total work.
 *
 *     pickle_doc *doc;
 *     if (pickle_load(buf, len, "model.pth", &doc, &e) < 0)
 *             return e.code;              // "model.pth: pickle references ..."
 *     const pickle_value *root = pickle_root(doc);
 *     ... walk root ...
 *     pickle_free(doc);
 *
 * Storage bytes are not read here: BINPERSID yields a PICKLE_STORAGE node that
 * names a record (key, dtype, element count) for the caller (formats/pth.c).
 */
#ifndef CT_PICKLE_H
#define CT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "tdict.h"

#define PICKLE_MAX_DEPTH 100        /* nesting of containers */
#define PICKLE_MAX_NODES (1u << 22) /* values created */
#define PICKLE_MAX_ITEMS (1u << 23) /* container slots, all containers together */
#define PICKLE_MAX_MEMO (1u << 22)  /* memo entries */
#define PICKLE_MAX_STACK (1u << 20) /* values on the stack at once */
#define PICKLE_MAX_MARKS 1024       /* MARKs open at once */

typedef enum {
	PICKLE_NONE,
	PICKLE_BOOL,
	PICKLE_INT,
	PICKLE_FLOAT,
	PICKLE_STR,
	PICKLE_BYTES,
	PICKLE_TUPLE,
	PICKLE_LIST,
	PICKLE_DICT,
	PICKLE_GLOBAL,  /* an allow-listed class, function or dtype */
	PICKLE_STORAGE, /* a persistent id: reference to <prefix>/data/<key> */
	PICKLE_TENSOR
} pickle_type;

typedef enum {
	PICKLE_G_ORDERED_DICT,
	PICKLE_G_REBUILD_TENSOR_V2,
	PICKLE_G_REBUILD_PARAMETER,
	PICKLE_G_REBUILD_PARAMETER_WITH_STATE,
	PICKLE_G_STORAGE_TYPE,
	PICKLE_G_DTYPE
} pickle_global_kind;

typedef struct pickle_value pickle_value;

/* A view into a storage, as torch's _rebuild_tensor_v2 receives it.  The
 * reader checks types and signs; bounds against the storage are the caller's
 * job because they depend on the record actually present. */
typedef struct pickle_tensor {
	const pickle_value *storage; /* a PICKLE_STORAGE node */
	int64_t offset;              /* in elements, >= 0 */
	int ndim;                    /* 0..CT_MAX_DIMS */
	int64_t shape[CT_MAX_DIMS];  /* >= 0 */
	int64_t stride[CT_MAX_DIMS]; /* >= 0, in elements */
} pickle_tensor;

struct pickle_value {
	pickle_type type;
	int depth; /* container nesting when built: 0 for scalars */
	int big;   /* PICKLE_INT that does not fit int64_t (i is then 0) */
	union {
		int64_t i; /* BOOL (0/1) and INT */
		double f;
		struct {
			char *p; /* NUL-terminated; STR is UTF-8 without NUL inside */
			size_t len;
		} s;
		struct {
			pickle_value **v; /* DICT: v[2k] is a key, v[2k+1] its value */
			size_t n, cap;    /* DICT: n counts keys and values */
		} seq;
		struct {
			pickle_global_kind kind;
			int dtype;        /* ct_dtype for storage types and dtypes */
			const char *name; /* "torch.FloatStorage" (static) */
		} g;
		struct {
			const char *key; /* record name under <prefix>/data/ */
			ct_dtype dtype;
			int64_t numel; /* elements declared by the pickle */
		} st;
		pickle_tensor *t;
	};
};

typedef struct pickle_doc pickle_doc;

/* Unpickles buf.  name is used in error messages ("<name>: ...").  Returns 0
 * and *out, or CT_ECORRUPT (malformed, forbidden global, limit exceeded),
 * CT_EUNSUPPORTED (a valid but unsupported storage type) or CT_ENOMEM. */
int pickle_load(const void *buf, size_t len, const char *name, pickle_doc **out, ct_err *e);
const pickle_value *pickle_root(const pickle_doc *doc);
/* Number of values created: a yardstick for how much walking a tree needs. */
size_t pickle_count(const pickle_doc *doc);
void pickle_free(pickle_doc *doc);

/* "int", "float", "str", "bytes", "bool", "None", "tuple", "list", "dict",
 * "dtype", "global", "storage", "tensor": what skipped-entry lists print. */
const char *pickle_type_name(const pickle_value *v);

/* Value of key (a str) in a PICKLE_DICT, the last one if repeated (as Python
 * would keep it), or NULL. */
const pickle_value *pickle_dict_get(const pickle_value *dict, const char *key);

/* Copies at most len bytes of src into dst (size n > 0) for an error message,
 * replacing control and non-ASCII bytes by '?' and truncating with "...". */
void pickle_printable(char *dst, size_t n, const char *src, size_t len);

#endif

/* pickle_vm.h — internals shared by pickle.c (the stack machine and the
 * data-only opcodes) and pickle_torch.c (the opcodes that name or call Python
 * objects, interpreted against the allow-list).  Not for use outside formats/pickle*.
 *
 * Every helper returns 0 or a negative ct_err code, having filled m->e with
 * "<file>: data.pkl offset <op>: <what>"; the first failure ends the load.
 */
#ifndef CT_PICKLE_VM_H
#define CT_PICKLE_VM_H

#include "pickle.h"

struct pickle_doc {
	pickle_value **blocks; /* arena: blocks of nodes, never moved */
	size_t n_blocks, cap_blocks;
	size_t n_nodes;
	pickle_value *root;
};

typedef struct vm {
	const unsigned char *p;
	size_t len, pos;
	size_t op_pos; /* offset of the opcode being run, for messages */
	const char *name;
	ct_err *e;
	int err;
	int stopped;
	pickle_doc *doc;
	pickle_value **stack;
	size_t sp, stack_cap;
	size_t *marks; /* stack heights at each open MARK */
	size_t n_marks;
	pickle_value **memo;
	size_t memo_len, memo_cap;
	size_t n_items; /* container slots used so far */
} vm;

int vm_fail(vm *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#ifdef __clang_analyzer__ /* a negative code: see CT_ANALYZER_FAILURE in util/err.h */
#define vm_fail(...) CT_ANALYZER_FAILURE(vm_fail(__VA_ARGS__))
#endif
int vm_node(vm *m, pickle_type type, pickle_value **out);
int vm_push(vm *m, pickle_value *v);
int vm_pop(vm *m, pickle_value **out);
int vm_top(vm *m, pickle_value **out);

/* pickle_torch.c */
int vm_op_global(vm *m);
int vm_op_stack_global(vm *m);
int vm_op_reduce(vm *m);
int vm_op_binpersid(vm *m);
int vm_op_build(vm *m);

#endif

/* nn/module: keys from a module tree, PyTorch's Linear initialisation, the
 * built-in MLP's names, ct_state_dict_save bytes and strict / non-strict
 * ct_state_dict_load with the missing / unexpected / mismatched lists. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"
#include "../../nn/mlp.h"
#include "../../nn/module.h"

TESTUTIL_TMPDIR(g_dir, "module", setup, teardown)

/* encoder.0 (2->3), encoder.1 (3->3, no bias), head (3->2), encoder.scale */
typedef struct net {
	ct_params ps;
	ct_linear_layer l0, l1, head;
	int scale;
} net;

static void build(net *n, int head_out)
{
	ct_params_init(&n->ps);
	ct_module root = ct_module_root(&n->ps);
	ct_module enc = ct_module_child(&root, "encoder");
	n->l0 = ct_module_linear(&enc, "0", 2, 3, 1);
	n->l1 = ct_module_linear(&enc, "1", 3, 3, 0);
	n->head = ct_module_linear(&root, "head", 3, head_out, 1);
	n->scale = ct_module_param(&enc, "scale", 1, (int64_t[]){1});
	ct_err e = {0};
	assert_int_equal(ct_params_alloc(&n->ps, &e), 0);
}

static void test_keys_from_tree(void **s)
{
	(void)s;
	net n;
	build(&n, 2);
	const char *want[] = {"encoder.0.weight", "encoder.0.bias", "encoder.1.weight",
			      "head.weight",      "head.bias",      "encoder.scale"};
	assert_int_equal(n.ps.nv, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(n.ps.v[i].name, want[i]);
	assert_int_equal(n.l0.weight, 0);
	assert_int_equal(n.l0.bias, 1);
	assert_int_equal(n.l1.bias, -1);
	assert_int_equal(n.ps.v[n.l0.weight].shape[0], 3);
	assert_int_equal(n.ps.v[n.l0.weight].shape[1], 2);
	ct_module root = ct_module_root(&n.ps);
	ct_module enc = ct_module_child(&root, "encoder");
	ct_module e0 = ct_module_item(&enc, 0);
	assert_string_equal(e0.prefix, "encoder.0");
	assert_int_equal(ct_module_find(&e0, "bias"), 1);
	assert_int_equal(ct_module_find(&enc, "missing"), -1);
	char key[CT_PARAM_NAME_MAX];
	ct_module_key(&e0, "weight", key, sizeof key);
	assert_string_equal(key, "encoder.0.weight");
	ct_params_release(&n.ps);
}

static void test_linear_init_is_torch_uniform(void **s)
{
	(void)s;
	net n;
	build(&n, 2);
	ct_rng r, ref;
	ct_rng_seed(&r, 5, CT_RNG_STREAM_INIT);
	ref = r;
	ct_linear_init(&n.ps, &n.l0, &r);
	float bound = 1.0f / sqrtf(2.0f);
	const float *w = ct_params_data(&n.ps, n.l0.weight), *b = ct_params_data(&n.ps, n.l0.bias);
	for (int k = 0; k < 6; k++)
		assert_true(w[k] == (2.0f * ct_rng_float(&ref) - 1.0f) * bound);
	for (int k = 0; k < 3; k++)
		assert_true(b[k] == (2.0f * ct_rng_float(&ref) - 1.0f) * bound);
	assert_memory_equal(&r, &ref, sizeof r); /* weight then bias, nothing else drawn */
	ct_params_release(&n.ps);
}

static void test_mlp_names_and_init(void **s)
{
	(void)s;
	ct_mlp m;
	ct_err e = {0};
	assert_int_equal(ct_mlp_init(&m, (int[]){4, 5, 3}, 3, CT_ACT_RELU, 0.0f, 8, &e), 0);
	assert_string_equal(m.ps.v[0].name, "layers.0.weight");
	assert_string_equal(m.ps.v[3].name, "layers.1.bias");
	assert_int_equal(m.lin[1].weight, 2);
	ct_rng r, ref;
	ct_rng_seed(&r, 9, CT_RNG_STREAM_INIT);
	ref = r;
	ct_mlp_init_weights(&m, &r);
	/* layer 1's weight is drawn after 20 + 5 numbers of layer 0 */
	for (int k = 0; k < 25; k++)
		ct_rng_float(&ref);
	float first = (2.0f * ct_rng_float(&ref) - 1.0f) / sqrtf(5.0f);
	assert_true(ct_params_data(&m.ps, 2)[0] == first);
	ct_mlp_release(&m);
}

static void fill(net *n, float base)
{
	for (int i = 0; i < n->ps.nv; i++)
		for (size_t k = 0; k < n->ps.v[i].numel; k++)
			ct_params_data(&n->ps, i)[k] = base + (float)(10 * i + (int)k);
}

static void test_state_dict_bytes(void **s)
{
	(void)s;
	ct_params ps;
	ct_params_init(&ps);
	ct_module root = ct_module_root(&ps);
	ct_module head = ct_module_child(&root, "head");
	ct_module_param(&head, "bias", 1, (int64_t[]){2});
	ct_err e = {0};
	assert_int_equal(ct_params_alloc(&ps, &e), 0);
	ct_params_data(&ps, 0)[0] = 1.0f;
	ct_params_data(&ps, 0)[1] = -2.0f;
	char path[300];
	snprintf(path, sizeof path, "%s/b.safetensors", g_dir);
	assert_int_equal(ct_state_dict_save(path, &ps, (const char *[]){"arch", "tiny", NULL}, &e),
			 0);
	char *buf;
	size_t len;
	assert_int_equal(ct_file_read_all(path, 4096, &buf, &len, &e), 0);
	const char hdr[] =
		"{\"__metadata__\":{\"format\":\"pt\",\"arch\":\"tiny\"},"
		"\"head.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
	uint64_t n = 0;
	memcpy(&n, buf, 8); /* little-endian host */
	assert_int_equal((8 + n) % 8, 0);
	assert_int_equal(len, 8 + n + 8);
	assert_memory_equal(buf + 8, hdr, strlen(hdr));
	for (size_t i = 8 + strlen(hdr); i < 8 + n; i++)
		assert_int_equal(buf[i], ' ');
	const unsigned char data[8] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}; /* 1.0f, -2.0f */
	assert_memory_equal(buf + 8 + n, data, 8);
	free(buf);
	ct_params_release(&ps);
}

static void test_state_dict_roundtrip_strict(void **s)
{
	(void)s;
	net a, b;
	build(&a, 2);
	build(&b, 2);
	fill(&a, 0.5f);
	char path[300];
	snprintf(path, sizeof path, "%s/a.safetensors", g_dir);
	ct_err e = {0};
	assert_int_equal(ct_state_dict_save(path, &a.ps, NULL, &e), 0);
	ct_load_report r;
	assert_int_equal(ct_state_dict_load(path, &b.ps, 1, &r, &e), 0);
	assert_int_equal(r.n_missing + r.n_unexpected + r.n_mismatched, 0);
	ct_load_report_release(&r);
	assert_memory_equal(a.ps.data, b.ps.data, a.ps.n * sizeof(float));
	ct_params_release(&a.ps);
	ct_params_release(&b.ps);
}

static void test_state_dict_non_strict_lists(void **s)
{
	(void)s;
	net a;
	build(&a, 2);
	fill(&a, 1.0f);
	char path[300];
	snprintf(path, sizeof path, "%s/c.safetensors", g_dir);
	ct_err e = {0};
	assert_int_equal(ct_state_dict_save(path, &a.ps, NULL, &e), 0);
	/* Another model: head has 4 outputs, no encoder.scale, an extra "tail". */
	ct_params ps;
	ct_params_init(&ps);
	ct_module root = ct_module_root(&ps);
	ct_module enc = ct_module_child(&root, "encoder");
	ct_linear_layer l0 = ct_module_linear(&enc, "0", 2, 3, 1);
	ct_module_linear(&enc, "1", 3, 3, 0);
	ct_module_linear(&root, "head", 3, 4, 1);
	ct_module_param(&root, "tail", 1, (int64_t[]){2});
	assert_int_equal(ct_params_alloc(&ps, &e), 0);
	ct_load_report r;
	assert_int_equal(ct_state_dict_load(path, &ps, 1, &r, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "c.safetensors: state dict does not match the model"));
	assert_non_null(strstr(e.msg, "missing keys: [tail]"));
	assert_non_null(strstr(e.msg, "unexpected keys: [encoder.scale]"));
	assert_non_null(strstr(e.msg, "mismatched: [head.weight (file [2,3], model [4,3]), "
				      "head.bias (file [2], model [4])]"));
	assert_true(ct_params_data(&ps, l0.weight)[0] == 0.0f); /* strict failure loads nothing */
	ct_load_report_release(&r);
	assert_int_equal(ct_state_dict_load(path, &ps, 0, &r, &e), 0);
	assert_int_equal(r.n_missing, 1);
	assert_string_equal(r.missing[0], "tail");
	assert_int_equal(r.n_unexpected, 1);
	assert_string_equal(r.unexpected[0], "encoder.scale");
	assert_int_equal(r.n_mismatched, 2);
	assert_string_equal(r.mismatched[0], "head.weight");
	assert_string_equal(r.mismatched[1], "head.bias");
	ct_load_report_release(&r);
	assert_memory_equal(ct_params_data(&ps, l0.weight), ct_params_data(&a.ps, a.l0.weight),
			    6 * sizeof(float));
	assert_true(ct_params_data(&ps, 3)[0] == 0.0f); /* head.weight untouched */
	/* A missing file names itself. */
	snprintf(path, sizeof path, "%s/none.safetensors", g_dir);
	assert_int_equal(ct_state_dict_load(path, &ps, 0, NULL, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, "none.safetensors"));
	ct_params_release(&ps);
	ct_params_release(&a.ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_from_tree),
		cmocka_unit_test(test_linear_init_is_torch_uniform),
		cmocka_unit_test(test_mlp_names_and_init),
		cmocka_unit_test(test_state_dict_bytes),
		cmocka_unit_test(test_state_dict_roundtrip_strict),
		cmocka_unit_test(test_state_dict_non_strict_lists),
	};
	return cmocka_run_group_tests_name("module", tests, setup, teardown);
}

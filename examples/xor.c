/* xor.c — the smallest ctrain program: a 2-8-2 network learns XOR.
 *
 * It shows the four pieces every program uses: parameters named by a module
 * tree, a model recorded once as a graph of ops, an optimizer, and a
 * safetensors file that PyTorch can load (`load_state_dict(strict=True)` on
 * a module with attributes `hidden` and `out`).
 *
 *   cc $(pkg-config --cflags ctrain) xor.c -o xor $(pkg-config --libs ctrain)
 *   ./xor [xor.safetensors]
 */
#include <ctrain.h>
#include <stdio.h>
#include <string.h>

static const float X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const int32_t Y[4] = {0, 1, 1, 0};

static int fail(const ct_err *e)
{
	(void)fprintf(stderr, "xor: %s\n", e->msg);
	return 1;
}

int main(int argc, char **argv)
{
	ct_err e = {0};

	/* 1. Parameters: "hidden.weight" [8,2], "hidden.bias" [8], "out.weight"
	 *    [2,8], "out.bias" [2], initialised as torch.nn.Linear does. */
	ct_params ps;
	ct_params_init(&ps);
	ct_module root = ct_module_root(&ps);
	ct_linear_layer hidden = ct_module_linear(&root, "hidden", 2, 8, 1);
	ct_linear_layer out = ct_module_linear(&root, "out", 8, 2, 1);
	if (ct_params_alloc(&ps, &e) < 0)
		return fail(&e);
	ct_rng init;
	ct_rng_seed(&init, 1, CT_RNG_STREAM_INIT);
	ct_linear_init(&ps, &hidden, &init);
	ct_linear_init(&ps, &out, &init);

	/* 2. The model: recorded once for up to 4 rows, replayed every step. */
	ct_graph *g = ct_graph_new(&ps, 4);
	int x = ct_graph_input(g, 2);
	int h = ct_graph_act(g, ct_graph_linear(g, x, hidden.weight, hidden.bias), CT_ACT_TANH);
	int logits = ct_graph_linear(g, h, out.weight, out.bias);
	int loss = ct_graph_softmax_xent(g, logits);
	if (ct_graph_finalize(g, &e) < 0)
		return fail(&e);

	/* 3. Adam, full batch. */
	ct_optim opt;
	ct_optim_hparams hp = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
	if (ct_optim_init(&opt, CT_OPT_ADAM, ps.n, &hp, &e) < 0)
		return fail(&e);
	ct_graph_set_rows(g, 4);
	memcpy(ct_graph_value(g, x), X, sizeof X);
	ct_graph_set_labels(g, loss, Y);
	for (int step = 0; step < 500; step++) {
		ct_graph_forward(g);
		ct_graph_backward(g, loss); /* dloss/dθ lands in ps.grad */
		ct_optim_step(&opt, ps.data, ps.grad, 0.05);
	}

	/* 4. Check, and save the weights. */
	ct_graph_forward(g);
	const float *z = ct_graph_value(g, logits);
	int right = 0;
	for (size_t i = 0; i < 4; i++) {
		int cls = z[2 * i + 1] > z[2 * i];
		printf("%g xor %g -> %d\n", (double)X[i][0], (double)X[i][1], cls);
		right += cls == Y[i];
	}
	printf("loss %.6f accuracy %d/4\n", ct_graph_loss(g, loss), right);
	if (argc > 1 &&
	    ct_state_dict_save(argv[1], &ps, (const char *[]){"model", "xor", NULL}, &e) < 0)
		return fail(&e);
	ct_optim_release(&opt);
	ct_graph_free(g);
	ct_params_release(&ps);
	return right == 4 ? 0 : 1;
}

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
	params ps;
	params_init(&ps);
	module root = module_root(&ps);
	linear_layer hidden = module_linear(&root, "hidden", 2, 8, 1);
	linear_layer out = module_linear(&root, "out", 8, 2, 1);
	if (params_alloc(&ps, &e) < 0)
		return fail(&e);
	rng init;
	rng_seed(&init, 1, RNG_STREAM_INIT);
	linear_init(&ps, &hidden, &init);
	linear_init(&ps, &out, &init);

	/* 2. The model: recorded once for up to 4 rows, replayed every step. */
	graph *g = graph_new(&ps, 4);
	int x = graph_input(g, 2);
	int h = graph_act(g, graph_linear(g, x, hidden.weight, hidden.bias), ACT_TANH);
	int logits = graph_linear(g, h, out.weight, out.bias);
	int loss = graph_softmax_xent(g, logits);
	if (graph_finalize(g, &e) < 0)
		return fail(&e);

	/* 3. Adam, full batch. */
	optim opt;
	optim_hparams hp = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
	if (optim_init(&opt, OPT_ADAM, ps.n, &hp, &e) < 0)
		return fail(&e);
	graph_set_rows(g, 4);
	memcpy(graph_value(g, x), X, sizeof X);
	graph_set_labels(g, loss, Y);
	for (int step = 0; step < 500; step++) {
		graph_forward(g);
		graph_backward(g, loss); /* dloss/dθ lands in ps.grad */
		optim_step(&opt, ps.data, ps.grad, 0.05);
	}

	/* 4. Check, and save the weights. */
	graph_forward(g);
	const float *z = graph_value(g, logits);
	int right = 0;
	for (size_t i = 0; i < 4; i++) {
		int cls = z[2 * i + 1] > z[2 * i];
		printf("%g xor %g -> %d\n", (double)X[i][0], (double)X[i][1], cls);
		right += cls == Y[i];
	}
	printf("loss %.6f accuracy %d/4\n", graph_loss(g, loss), right);
	if (argc > 1 &&
	    state_dict_save(argv[1], &ps, (const char *[]){"model", "xor", NULL}, &e) < 0)
		return fail(&e);
	optim_release(&opt);
	graph_free(g);
	params_release(&ps);
	return right == 4 ? 0 : 1;
}

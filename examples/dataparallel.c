/* dataparallel.c — a data-parallel hand-written loop: alone, one process; under
 * `mpirun -np P` (P = 1, 2, 4) each rank computes S/P of the S = 4 shards of a batch
 * and one fixed tree combines them: the same weights for every P, and a checkpoint
 * resumes on another P.  Usage: dataparallel RUN_DIR [STEPS].  Rank 0 alone writes
 * RUN_DIR (checkpoints every 10 steps, model.safetensors), and reads it on a restart
 * and broadcasts it.  SIGTERM/SIGINT: all ranks stop after one step, exit 143/130. */
#include <ctrain.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 20, H = 32, K = 4, N = 2048, BATCH = 64, S = 4, EVERY = 10, SEED = 3 };
static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* A failure on any rank ends the whole job: no rank waits for a dead peer. */
static int die(ct_comm *c, const ct_err *e)
{
	(void)fprintf(stderr, "dataparallel: rank %d: %s\n", c->rank, e->msg);
	ct_comm_abort(c, 1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return (void)fprintf(stderr, "usage: dataparallel RUN_DIR [STEPS]\n"), 2;
	int64_t steps = argc > 2 ? strtoll(argv[2], NULL, 10) : 60, step = 0, restored = 0, at, r0,
		n;
	ct_err e = {0};
	ct_comm c; /* MPI when a launcher started us, else rank 0 of 1 */
	if (ct_comm_init(&c, &e) < 0)
		return (void)fprintf(stderr, "dataparallel: %s\n", e.msg), 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	/* The same data, model and optimizer on every rank; a graph of one shard's rows. */
	ct_dataset ds = {0};
	ct_params ps;
	ct_params_init(&ps);
	ct_module root = ct_module_root(&ps);
	ct_linear_layer l0 = ct_module_linear(&root, "fc1", D, H, 1);
	ct_linear_layer l1 = ct_module_linear(&root, "fc2", H, K, 1);
	ct_optim opt;
	ct_loader ld;
	ct_rng init;
	if (ct_synthetic_make(SEED, N, D, K, &ds, &e) < 0 || ct_params_alloc(&ps, &e) < 0 ||
	    ct_optim_init(&opt, CT_OPT_ADAM, ps.n,
			  &(ct_optim_hparams){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, &e) < 0 ||
	    ct_loader_init(&ld, &ds, BATCH, 1, SEED, &e) < 0)
		return die(&c, &e);
	ct_rng_seed(&init, SEED, CT_RNG_STREAM_INIT);
	ct_linear_init(&ps, &l0, &init);
	ct_linear_init(&ps, &l1, &init);
	ct_graph *g = ct_graph_new(&ps, BATCH / S);
	int x = ct_graph_input(g, D);
	int h = ct_graph_act(g, ct_graph_linear(g, x, l0.weight, l0.bias), CT_ACT_RELU);
	int loss = ct_graph_softmax_xent(g, ct_graph_linear(g, h, l1.weight, l1.bias));
	if (ct_graph_finalize(g, &e) < 0)
		return die(&c, &e);

	/* This rank's shards, its subtree (a node: the gradient, a loss sum, a
	 * row count) and the exchange of the P subtree roots. */
	int first, count;
	ct_shard_layout lay;
	ct_shard_tree tree;
	ct_dist_exchange xc;
	ct_shard_owned(S, c.size, c.rank, &first, &count);
	ct_shard_layout_init(&lay, ps.n, 1, 1);
	if (ct_shard_tree_init(&tree, &lay, count, &e) < 0 ||
	    ct_dist_exchange_init(&xc, &lay, c.size, &e) < 0)
		return die(&c, &e);

	/* Rank 0 alone owns the checkpoints; it restores, then broadcasts. */
	char path[4096];
	ct_ckpt_manager *cm = NULL;
	if (c.rank == 0) {
		snprintf(path, sizeof path, "%s/checkpoints", argv[1]);
		ct_ckpt_manager_opts o = {.keep_last = 2, .async = 1};
		if (!(cm = ct_ckpt_manager_new(path, &o, &e)) ||
		    ct_ckpt_manager_add_params(cm, "model", &ps, &e) < 0 ||
		    ct_ckpt_manager_add_optim(cm, "optim", &opt, &ps, &e) < 0 ||
		    ct_ckpt_manager_add_loader(cm, "data", &ld, &e) < 0 ||
		    ct_ckpt_manager_add_i64(cm, "train/step", &step, &e) < 0 ||
		    (restored = ct_ckpt_manager_restore_latest(cm, &at, &e)) < 0)
			return die(&c, &e);
	}
	ct_loader_state st = ld.st;
	if (ct_comm_bcast(&c, &restored, sizeof restored, 0, &e) < 0 ||
	    (restored && (ct_comm_bcast(&c, ps.data, ps.n * sizeof(float), 0, &e) < 0 ||
			  ct_comm_bcast(&c, opt.m, ps.n * sizeof(float), 0, &e) < 0 ||
			  ct_comm_bcast(&c, opt.v, ps.n * sizeof(float), 0, &e) < 0 ||
			  ct_comm_bcast(&c, &opt.step, sizeof opt.step, 0, &e) < 0 ||
			  ct_comm_bcast(&c, &step, sizeof step, 0, &e) < 0 ||
			  ct_comm_bcast(&c, &st, sizeof st, 0, &e) < 0 ||
			  ct_loader_set_state(&ld, &st, &e) < 0)))
		return die(&c, &e);

	float xb[BATCH * D], *grad = ps.grad;
	int32_t yb[BATCH], stop = 0;
	double mean_loss = 0.0;
	while (!stop && step < steps) {
		if (ct_loader_next(&ld, xb, yb) == 0) /* an epoch ended: the next one */
			continue;
		ct_shard_tree_reset(&tree);
		for (int i = first; i < first + count; i++) {
			ct_shard_rows(BATCH, S, i, &r0, &n);
			void *leaf = ct_shard_tree_leaf(&tree);
			ps.grad = ct_shard_floats(&lay, leaf); /* backward writes the leaf */
			ct_graph_set_rows(g, (int)n);
			memcpy(ct_graph_value(g, x), xb + r0 * D, (size_t)n * D * sizeof(float));
			ct_graph_set_labels(g, loss, yb + r0);
			ct_graph_forward(g);
			ct_graph_backward(g, loss);
			ct_shard_doubles(&lay, leaf)[0] = ct_graph_loss(g, loss) * (double)n;
			ct_shard_ints(&lay, leaf)[0] = n;
			ct_shard_tree_push(&tree);
		}
		void *sum; /* the same bytes on every rank, for every P */
		if (ct_dist_step_exchange(&c, &xc, ct_shard_tree_root(&tree), stop_signal != 0,
					  &sum, &e) < 0)
			return die(&c, &e);
		float *gsum = ct_shard_floats(&lay, sum);
		for (size_t j = 0; j < ps.n; j++) /* sum of S shard means -> the mean: exact */
			gsum[j] *= 1.0f / S;
		ct_optim_step(&opt, ps.data, gsum, 1e-2);
		step++;
		stop = ct_shard_stop(&lay, sum); /* some rank had a signal: all stop now */
		mean_loss = ct_shard_doubles(&lay, sum)[0] / (double)ct_shard_ints(&lay, sum)[0];
		/* The replicas must agree before rank 0 writes what they all hold. */
		if (step % EVERY == 0 || stop || step == steps) {
			uint64_t digest = ct_dist_digest(ps.data, ps.n * sizeof(float));
			if (ct_dist_check_replicas(&c, digest, step, &e) < 0 ||
			    (cm && ct_ckpt_manager_save(cm, step, &e) < 0))
				return die(&c, &e);
		}
	}
	ps.grad = grad;
	snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
	if (cm &&
	    (ct_ckpt_manager_finish(cm, step, &e) < 0 ||
	     ct_state_dict_save(path, &ps, (const char *[]){"arch", "dataparallel", NULL}, &e) < 0))
		return die(&c, &e);
	if (c.rank == 0)
		printf("done step %lld on %d rank(s), loss %.6f%s\n", (long long)step, c.size,
		       mean_loss, stop ? ", stopped by a signal" : "");
	ct_ckpt_manager_free(cm);
	ct_dist_exchange_release(&xc);
	ct_shard_tree_release(&tree);
	ct_graph_free(g);
	ct_loader_release(&ld);
	ct_optim_release(&opt);
	ct_params_release(&ps);
	ct_dataset_release(&ds);
	if (ct_comm_finalize(&c, &e) < 0)
		return (void)fprintf(stderr, "dataparallel: %s\n", e.msg), 1;
	return stop ? 128 + (stop_signal ? (int)stop_signal : SIGTERM) : 0;
}

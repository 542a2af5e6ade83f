/* serve.c — predictions from a trained model, one request per line.
 *
 * Loads MODEL.safetensors as exported by `ctrain train` / `ctrain export`
 * (an MLP whose __metadata__ names its layers and activation), then reads
 * samples from stdin, one per line as comma-separated features, and answers
 * each on stdout with "class,p_0,p_1,...": the argmax and the softmax
 * probabilities.  A malformed line gets "error: ..." on stdout (so a client
 * reading answers line by line stays in step) and the next line is served.
 *
 *   serve MODEL.safetensors < samples.csv
 */
#define _POSIX_C_SOURCE 200809L /* getline; NOLINT(bugprone-reserved-identifier) */
#include <ctrain.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses up to n comma-separated floats; returns how many, or -1. */
static int parse_row(char *line, float *x, int n)
{
	int k = 0;
	char *p = line;
	for (;;) {
		char *end;
		errno = 0;
		float v = strtof(p, &end);
		if (end == p || errno || !isfinite(v) || k == n)
			return -1;
		x[k++] = v;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end == '\n' || *end == '\r' || *end == '\0')
			return k;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
}

static void answer(const float *z, int k)
{
	int best = 0;
	double max = (double)z[0], sum = 0;
	for (int j = 1; j < k; j++)
		if (z[j] > z[best]) {
			best = j;
			max = (double)z[j];
		}
	for (int j = 0; j < k; j++)
		sum += exp((double)z[j] - max);
	printf("%d", best);
	for (int j = 0; j < k; j++)
		printf(",%.6f", exp((double)z[j] - max) / sum);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return (void)fprintf(stderr, "usage: serve MODEL.safetensors < samples.csv\n"), 2;
	ct_err e = {0};
	ct_tdict d;
	ct_mlp m;
	if (ct_st_read(argv[1], &d, &e) < 0)
		return (void)fprintf(stderr, "serve: %s\n", e.msg), 1;
	int rc = ct_model_from_tdict(&m, &d, argv[1], 1, &e); /* checks every tensor */
	ct_tdict_release(&d);
	if (rc < 0)
		return (void)fprintf(stderr, "serve: %s\n", e.msg), 1;
	int in = m.sizes[0], k = m.sizes[m.n_sizes - 1];
	(void)fprintf(stderr, "serve: %s: %d features -> %d classes; reading stdin\n", argv[1], in,
		      k);

	float *x = malloc((size_t)in * sizeof *x), *z = malloc((size_t)k * sizeof *z);
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	while (x && z && getline(&line, &cap, stdin) > 0) {
		lineno++;
		int got = parse_row(line, x, in);
		if (got != in) {
			printf("error: line %ld: expected %d numbers separated by commas\n", lineno,
			       in);
			continue;
		}
		ct_mlp_eval(&m, x, NULL, 1, z, NULL, NULL);
		answer(z, k);
		if (fflush(stdout) != 0) /* one answer per request, now; stop if nobody reads */
			break;
	}
	rc = x && z ? 0 : 1;
	free(line);
	free(x);
	free(z);
	ct_mlp_release(&m);
	return rc;
}

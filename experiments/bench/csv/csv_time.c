/* csv_time — loads one CSV with ct_csv_load and prints, as one JSON line, the
 * seconds it took, the shape, the peak RSS of the process and an FNV-1a hash
 * of the floats and labels (so that two builds can be shown to give the same
 * bytes).  Built and run by experiments/bench/csv_bench.sh against any
 * libctrain.a (the old reader's too: ct_csv_load's signature has not changed).
 *     csv_time FILE.csv [LABEL_COLUMN]      (default -1: the last column)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "../../../data/dataset.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: csv_time FILE.csv [LABEL_COLUMN]\n");
		return 2;
	}
	struct timespec t0, t1;
	ct_dataset ds;
	ct_err e = {0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ct_csv_load(argv[1], argc > 2 ? atoi(argv[2]) : -1, &ds, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		fprintf(stderr, "csv_time: %s\n", e.msg);
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	uint64_t h = fnv(1469598103934665603u, ds.x, (size_t)ds.n * (size_t)ds.d * sizeof(float));
	if (ds.y)
		h = fnv(h, ds.y, (size_t)ds.n * sizeof(int32_t));
	printf("{\"seconds\":%.4f,\"rows\":%lld,\"features\":%d,\"classes\":%d,"
	       "\"peak_rss_mb\":%.1f,\"hash\":\"%016llx\"}\n",
	       (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
	       (long long)ds.n, ds.d, ds.n_classes, (double)ru.ru_maxrss / 1024.0,
	       (unsigned long long)h);
	ct_dataset_release(&ds);
	return 0;
}

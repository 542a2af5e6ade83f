/* synth_rate.c — floats/s of the two synthetic-data generators, side by side
 * in one run, and whether version 2 gives the same bytes for 1, 2 and 3 threads.
 *
 *     make build/bench/synth_rate
 *     build/bench/synth_rate [rows [features]]      # default 131072 x 784
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../data/dataset.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	int64_t n = argc > 1 ? atoll(argv[1]) : 131072;
	int d = argc > 2 ? atoi(argv[2]) : 784, k = 10;
	double v = (double)n * d;
	dataset ref = {0};
	printf("%lld x %d, %d classes\n| generator | threads | seconds | M floats/s | same bytes as 1 thread |\n"
	       "| --- | ---: | ---: | ---: | --- |\n",
	       (long long)n, d, k);
	for (int version = 1; version <= 2; version++)
		for (int threads = 1; threads <= 3; threads++) {
			if (version == 1 && threads > 1)
				continue; /* one stream: threads do not apply */
			dataset ds;
			ct_err e;
			double t0 = now();
			if (synthetic_generate(42, n, d, k, version, threads, &ds, &e) < 0) {
				fprintf(stderr, "%s\n", e.msg);
				return 1;
			}
			double s = now() - t0;
			const char *same = "-";
			if (version == 2 && threads == 1)
				ref = ds;
			else if (version == 2)
				same = memcmp(ref.x, ds.x, (size_t)v * sizeof(float)) == 0 &&
					       memcmp(ref.y, ds.y, (size_t)n * sizeof(int32_t)) == 0
					       ? "yes"
					       : "NO";
			printf("| %d | %d | %.3f | %.1f | %s |\n", version, threads, s, v / s / 1e6, same);
			if (!(version == 2 && threads == 1))
				dataset_release(&ds);
		}
	dataset_release(&ref);
	return 0;
}

/* synth_rate.c — floats/s of the two synthetic-data generators, side by side
 * in one run (allocation and page faults included, as `ctrain train` pays
 * them), and whether the counter generator gives the same bytes for 1, 2 and
 * 3 threads.  Rounds are interleaved and the best of each is kept, so that a
 * machine shared with other jobs disturbs both sides alike; process CPU
 * seconds are printed beside the wall-clock seconds.
 *
 *     make build/bench/synth_rate
 *     build/bench/synth_rate [rows [features [rounds]]]     # default 131072 x 784, 3
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../ckpt/crc32c.h"
#include "../../data/dataset.h"

static double clock_s(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define N_CELLS 4
static const int versions[N_CELLS] = {1, 2, 2, 2}, threads[N_CELLS] = {1, 1, 2, 3};

int main(int argc, char **argv)
{
	int64_t n = argc > 1 ? atoll(argv[1]) : 131072;
	int d = argc > 2 ? atoi(argv[2]) : 784, k = 10, rounds = argc > 3 ? atoi(argv[3]) : 3;
	if (n < 1 || d < 1 || rounds < 1) {
		fprintf(stderr, "usage: synth_rate [rows [features [rounds]]]\n");
		return 2;
	}
	double v = (double)n * d, wall[N_CELLS], cpu[N_CELLS];
	uint32_t crc[N_CELLS];
	for (int c = 0; c < N_CELLS; c++)
		wall[c] = cpu[c] = 1e300;
	for (int r = 0; r < rounds; r++)
		for (int c = 0; c < N_CELLS; c++) {
			ct_dataset ds;
			ct_err e;
			double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
			if (ct_synthetic_generate(42, n, d, k, versions[c], threads[c], &ds, &e) < 0) {
				fprintf(stderr, "%s\n", e.msg);
				return 1;
			}
			double w = clock_s(CLOCK_MONOTONIC) - w0;
			double cp = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
			wall[c] = w < wall[c] ? w : wall[c];
			cpu[c] = cp < cpu[c] ? cp : cpu[c];
			crc[c] = crc32c_update(crc32c_update(0, ds.x, (size_t)v * sizeof(float)), ds.y,
					       (size_t)n * sizeof(int32_t));
			ct_dataset_release(&ds);
		}
	printf("%lld x %d, %d classes, best of %d interleaved rounds\n\n"
	       "| generator | threads | wall s | CPU s | M floats/s (wall) | x sequential | bytes "
	       "(CRC-32C) |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
	       (long long)n, d, k, rounds);
	int same = 1;
	for (int c = 0; c < N_CELLS; c++) {
		printf("| %s | %d | %.3f | %.3f | %.1f | %.1f | %08x |\n",
		       versions[c] == 1 ? "sequential (0.1.0)" : "counter", threads[c], wall[c],
		       cpu[c], v / wall[c] / 1e6, wall[0] / wall[c], crc[c]);
		same &= versions[c] == 1 || crc[c] == crc[1];
	}
	printf("\ncounter generator, same bytes for 1, 2 and 3 threads: %s\n", same ? "yes" : "NO");
	return same ? 0 : 1;
}

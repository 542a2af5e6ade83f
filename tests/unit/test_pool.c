/* Tests of nn/pool: every task of every region runs exactly once, with that
 * region's ctx, also when regions follow each other faster than the workers
 * wake up.  A worker that woke after its region had ended once took the dead
 * region's job and ran it on the next region's counter: tasks ran with a
 * stale ctx (SIGFPE in a gemm) or twice, and pool_run could wait forever.
 * Many tiny regions from one stack frame after another reproduce that within
 * a second; alarm() turns a hang into a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../util/pool.h"

enum { MAGIC = 0x5eed, REGIONS = 200000 };

typedef struct region_ctx {
	int magic;
	int hits[4];
} region_ctx;

static volatile int g_stale; /* tasks run with a ctx that was not live */

static void task(void *ctx, int i)
{
	region_ctx *r = ctx;
	if (r->magic != MAGIC || i < 0 || i >= 4)
		g_stale = 1;
	else
		__atomic_add_fetch(&r->hits[i], 1, __ATOMIC_RELAXED);
}

/* One region whose ctx lives on this frame and is marked dead on return. */
static int region(pool *p, int n)
{
	region_ctx r = {MAGIC, {0, 0, 0, 0}};
	pool_run(p, n, task, &r);
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad |= __atomic_load_n(&r.hits[i], __ATOMIC_RELAXED) != 1;
	__atomic_store_n(&r.magic, 0, __ATOMIC_RELAXED);
	return bad;
}

static void test_back_to_back_regions(void **state)
{
	(void)state;
	pool *p = pool_new(3);
	assert_non_null(p);
	assert_int_equal(pool_threads(p), 3);
	alarm(30);
	int bad = 0;
	for (int k = 0; k < REGIONS && !bad; k++)
		bad = region(p, 2 + k % 3);
	alarm(0);
	pool_free(p);
	assert_int_equal(bad, 0);
	assert_int_equal(g_stale, 0);
}

static void test_single_thread_inline(void **state)
{
	(void)state;
	pool *p = pool_new(0); /* clamped to 1: the caller runs everything */
	assert_non_null(p);
	assert_int_equal(pool_threads(p), 1);
	assert_int_equal(region(p, 4), 0);
	pool_free(p);
	assert_int_equal(pool_threads(NULL), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_back_to_back_regions),
		cmocka_unit_test(test_single_thread_inline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

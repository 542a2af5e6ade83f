/* pool.h — a fixed set of worker threads that run the tasks of one parallel
 * region, for the deterministic parallel kernels in ops.c.
 *
 *     pool *p = pool_new(4);                 // the caller + 3 workers
 *     pool_run(p, n_tasks, fn, ctx);         // fn(ctx, i) for every i, returns when all are done
 *     pool_free(p);
 * Which thread runs which task is not fixed; callers make every task write
 * its own outputs, so results never depend on the schedule or the thread count.
 */
#ifndef CT_POOL_H
#define CT_POOL_H

typedef struct pool pool;
typedef void (*pool_fn)(void *ctx, int task);

/* threads >= 1; returns NULL if a thread cannot be started. */
pool *pool_new(int threads);
void pool_free(pool *p);
int pool_threads(const pool *p);
void pool_run(pool *p, int n_tasks, pool_fn fn, void *ctx);

#endif

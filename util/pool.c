#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct pool {
	int threads;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	/* the current region */
	pool_fn fn;
	void *ctx;
	int n_tasks, next, finished;
	int active; /* workers between taking this region's job and reporting back */
	unsigned generation;
	int quit;
};

/* Takes tasks until none is left; returns how many this thread ran. */
static int drain(pool *p, pool_fn fn, void *ctx, int n_tasks)
{
	int ran = 0;
	for (;;) {
		int i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= n_tasks)
			return ran;
		fn(ctx, i);
		ran++;
	}
}

static void *worker(void *arg)
{
	pool *p = arg;
	unsigned seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->generation == seen && !p->quit)
			pthread_cond_wait(&p->start, &p->mu);
		if (p->quit)
			break;
		seen = p->generation;
		/* Woken too late: pool_run already saw every task of this region
		 * finished and returned, and its ctx may be gone.  Taking the job now
		 * would run a dead region's fn on the next region's counter (a stale
		 * gemm_job: SIGFPE in e2e_threads) and overcount finished, so that
		 * the next pool_run waited forever. */
		if (p->finished >= p->n_tasks)
			continue;
		p->active++;
		pool_fn fn = p->fn;
		void *ctx = p->ctx;
		int n = p->n_tasks;
		pthread_mutex_unlock(&p->mu);
		int ran = drain(p, fn, ctx, n);
		pthread_mutex_lock(&p->mu);
		p->finished += ran;
		p->active--;
		if (p->finished == p->n_tasks && p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

pool *pool_new(int threads)
{
	if (threads < 1)
		threads = 1;
	pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->threads = threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	p->tid = calloc((size_t)threads, sizeof *p->tid);
	if (!p->tid) {
		free(p);
		return NULL;
	}
	for (int i = 0; i + 1 < threads; i++) {
		if (pthread_create(&p->tid[i], NULL, worker, p) != 0) {
			p->threads = i + 1;
			pool_free(p);
			return NULL;
		}
	}
	return p;
}

void pool_free(pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i + 1 < p->threads; i++)
		pthread_join(p->tid[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	free(p->tid);
	free(p);
}

int pool_threads(const pool *p) { return p ? p->threads : 1; }

void pool_run(pool *p, int n_tasks, pool_fn fn, void *ctx)
{
	if (!p || p->threads == 1 || n_tasks <= 1) {
		for (int i = 0; i < n_tasks; i++)
			fn(ctx, i);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n_tasks = n_tasks;
	p->next = 0;
	p->finished = 0;
	p->generation++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	int ran = drain(p, fn, ctx, n_tasks);
	pthread_mutex_lock(&p->mu);
	p->finished += ran;
	/* Also wait for workers that took this job but found no task left: they
	 * must not still hold it when the next region resets the counter. */
	while (p->finished < n_tasks || p->active > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../util/log.h"

double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void format_duration(char *buf, unsigned len, double s)
{
	if (s < 0 || s != s)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
	else if (t >= 60)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, len, "%lds", t);
}

void progress_init(progress *p, int64_t start_step, int64_t total)
{
	p->tty = isatty(STDERR_FILENO) && ct_log_get_level() <= CT_LOG_INFO;
	p->start_step = start_step;
	p->total = total;
	p->t_start = p->last_draw = progress_now();
	p->drawn = 0;
}

static double rate(const progress *p, int64_t step, double now)
{
	double dt = now - p->t_start;
	return dt > 0 ? (double)(step - p->start_step) / dt : 0.0;
}

void progress_tick(progress *p, int64_t step, int64_t epoch, int64_t epochs, double loss)
{
	if (!p->tty)
		return;
	double now = progress_now();
	if (now - p->last_draw < 0.1 && step < p->total)
		return;
	p->last_draw = now;
	double r = rate(p, step, now);
	char eta[32];
	format_duration(eta, sizeof eta, r > 0 ? (double)(p->total - step) / r : 0);
	int width = 30, fill = p->total ? (int)(width * step / p->total) : width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	/* The bar is cosmetic (a TTY only): a failed write is not worth a report. */
	(void)fprintf(stderr,
		      "\r[%s] %3d%% step %lld/%lld epoch %lld/%lld loss %.4f %.1f it/s ETA %s ",
		      bar, p->total ? (int)(100 * step / p->total) : 100, (long long)step,
		      (long long)p->total, (long long)epoch + 1, (long long)epochs, loss, r, eta);
	(void)fflush(stderr);
	p->drawn = 1;
}

void progress_row(progress *p, int64_t step, int64_t epoch, int64_t epochs, double loss, double lr,
		  double sps, int has_val, double val_loss, double val_acc)
{
	if (p->tty && !has_val)
		return;
	progress_clear(p);
	double r = rate(p, step, progress_now());
	char eta[32];
	format_duration(eta, sizeof eta, r > 0 ? (double)(p->total - step) / r : 0);
	if (has_val)
		ct_log_info("step %lld/%lld epoch %lld/%lld loss %.4f lr %.3g %.0f samples/s "
			    "val_loss %.4f val_acc %.4f ETA %s",
			    (long long)step, (long long)p->total, (long long)epoch + 1,
			    (long long)epochs, loss, lr, sps, val_loss, val_acc, eta);
	else
		ct_log_info(
			"step %lld/%lld epoch %lld/%lld loss %.4f lr %.3g %.0f samples/s ETA %s",
			(long long)step, (long long)p->total, (long long)epoch + 1,
			(long long)epochs, loss, lr, sps, eta);
}

void progress_clear(progress *p)
{
	if (p->tty && p->drawn) {
		(void)fputc('\n', stderr);
		p->drawn = 0;
	}
}

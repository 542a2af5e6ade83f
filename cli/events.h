/* events.h — DIR/events.csv: the life of a run, one line per event, so that
 * `ctrain status` can tell a failed run from an interrupted one and `ctrain
 * plot` can mark every resume.
 *
 * Header: time_unix,event,step,total_steps,detail
 *   start        `ctrain train` begins at step 0
 *   resume       `ctrain resume` continues from the checkpoint of `step`
 *   finished     training completed (model.safetensors written)
 *   interrupted  stopped by SIGINT/SIGTERM/SIGHUP, checkpoint saved
 *   failed       stopped by an error (exit 1); detail is the error message
 * A process killed outright (kill -9, OOM, power loss) writes nothing: its
 * last event stays start/resume while no process holds DIR/.lock.
 * detail is the last column and may contain commas, never a newline.
 *
 *     events_append("runs/x", "resume", 400, 1200, "", &e);  // write + fsync
 *     run_event *v; size_t n; events_read("runs/x", &v, &n, &e); ... free(v);
 * A missing file reads as no events.  Recording is advisory: train/resume log
 * a failure to append at WARN and go on training.
 */
#ifndef CT_EVENTS_H
#define CT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

#define EVENTS_HEADER "time_unix,event,step,total_steps,detail"

typedef struct run_event {
	double time; /* seconds since the epoch */
	char event[16];
	int64_t step, total_steps; /* total_steps -1 when unknown */
	char detail[512];
} run_event;

int events_append(const char *run_dir, const char *event, int64_t step, int64_t total_steps,
		  const char *detail, ct_err *e);
/* *v malloc'ed (NULL when n is 0); lines that do not parse are skipped. */
int events_read(const char *run_dir, run_event **v, size_t *n, ct_err *e);

#endif

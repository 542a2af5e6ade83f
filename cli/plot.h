/* plot.h — training curves drawn by gnuplot (Debian gnuplot-nox), driven
 * through a pipe: training loss raw and smoothed (exponential moving average,
 * weight 0.9), validation loss, validation accuracy and learning rate, steps on
 * the x axis, epoch boundaries as ticks on the top axis, a dashed line and the
 * label "resume" (or "restart") at every resume recorded in DIR/events.csv,
 * several runs overlaid with one colour and one legend entry each.
 *
 *     plot_runs(dirs, n, "curves.svg", &e);   // .svg or .png (1200x800)
 *     plot_refresh("runs/x");                 // end of train/resume: runs/x/curves.svg
 * The picture is written to a temporary name and renamed, so a reader never
 * sees half of it.  gnuplot missing: CT_ENOTFOUND; plot_refresh then logs one
 * INFO line and does nothing.
 */
#ifndef CT_PLOT_H
#define CT_PLOT_H

#include <stddef.h>

#include "../util/err.h"

int plot_runs(char *const *dirs, size_t n, const char *out, ct_err *e);
void plot_refresh(const char *dir);

#endif

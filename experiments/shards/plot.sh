#!/bin/sh
# The figure of experiments/results/scaling.md from the raw lines of run.sh:
#     sh experiments/shards/plot.sh [scaling_raw.jsonl]
# writes experiments/results/scaling.png and scaling.svg (gnuplot-nox):
# left and middle, the throughput at P = 1 with S shards as a percentage of
# today's step, per batch, for the two models (solid: bench_shards against
# S = 0; dashed: ctrain train, scaling_trainer_raw.jsonl, against S = 1); right, 2 ranks x 1
# thread as a percentage of 1 rank x 2 threads (784-1024-1024-10), waiting
# ranks busy-polling (Open MPI's default) or yielding.
set -eu
RAW=${1:-experiments/results/scaling_raw.jsonl}
OUT=experiments/results/scaling
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
/usr/bin/python3 "$(dirname "$0")/report.py" "$RAW" --dat "$D" >/dev/null
for term in "pngcairo size 1500,480 font ',11'" "svg size 1500,480 font 'sans,11'"; do
	case $term in png*) ext=png ;; *) ext=svg ;; esac
	gnuplot <<EOF
set terminal $term
set output "$OUT.$ext"
set multiplot layout 1,3
set grid
set key bottom left
set logscale x 2
set xrange [0.8:10]
set xtics (1, 2, 4, 8)
set yrange [0:120]
set xlabel "shards S (P = 1, 1 thread)"
set ylabel "throughput, % of the step without shards (CPU time)"
set title "784-256-10"
plot 90 with lines dt 2 lc rgb "gray" title "goal 90%", \
     "$D/shards_0.dat" using 1:2 with linespoints lw 2 lc 1 title "batch 32", \
     "" using 1:3 with linespoints lw 2 lc 2 title "batch 128", \
     "" using 1:4 with linespoints lw 2 lc 3 title "batch 512", \
     "$D/trainer_0.dat" using 1:2 with linespoints lw 1 lc 1 dt 2 title "32, ctrain train", \
     "" using 1:3 with linespoints lw 1 lc 2 dt 2 title "128, ctrain train", \
     "" using 1:4 with linespoints lw 1 lc 3 dt 2 title "512, ctrain train"
set title "784-1024-1024-10"
plot 90 with lines dt 2 lc rgb "gray" title "goal 90%", \
     "$D/shards_1.dat" using 1:2 with linespoints lw 2 lc 1 title "batch 32", \
     "" using 1:3 with linespoints lw 2 lc 2 title "batch 128", \
     "" using 1:4 with linespoints lw 2 lc 3 title "batch 512", \
     "$D/trainer_1.dat" using 1:2 with linespoints lw 1 lc 1 dt 2 title "32, ctrain train", \
     "" using 1:3 with linespoints lw 1 lc 2 dt 2 title "128, ctrain train", \
     "" using 1:4 with linespoints lw 1 lc 3 dt 2 title "512, ctrain train"
set title "784-1024-1024-10: 2 ranks x 1 thread vs 1 rank x 2 threads"
set xrange [1.6:10]
set xtics (2, 4, 8)
set key top left Left reverse maxrows 3 width 2 samplen 1 font ",9"
set yrange [0:150]
set xlabel "shards S"
set ylabel "2 x 1 throughput, % of 1 x 2"
plot 90 with lines dt 2 lc rgb "gray" title "goal 90%", \
     "$D/ranks.dat" using 1:2 with linespoints lw 2 lc 1 dt 3 title "b128 poll CPU", \
     "" using 1:3 with linespoints lw 2 lc 1 title "b128 yield CPU", \
     "" using 1:6 with linespoints lw 2 lc 2 dt 3 title "b512 poll CPU", \
     "" using 1:7 with linespoints lw 2 lc 2 title "b512 yield CPU", \
     "" using 1:9 with linespoints lw 1 lc 3 title "b512 yield wall"
unset multiplot
EOF
done
echo "wrote $OUT.png $OUT.svg"

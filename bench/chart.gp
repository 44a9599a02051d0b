# chart.gp -- the benchmark's chart: requests/s and p99 of each target, per request kind and connection count.
# bench.py calls it as
#     gnuplot -e "rps='rps.dat'; p99='p99.dat'; out='chart.png'; heading='...'; columns='2 3 4 5'" bench/chart.gp
# Each data file has a header line `cell <target>...` and one row per cell ("POST 64" ...);
# `columns` names the targets that were run. Column i keeps linetype i-1, so each target keeps
# its colour whichever of them ran.

set terminal pngcairo size 1400,950 font "sans,11" noenhanced
set output out
set multiplot layout 2,1 title heading font "sans,13"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set xtics nomirror
set ytics nomirror
set linetype 1 lc rgb "#9e9e9e"   # limit: nginx's own return 200
set linetype 2 lc rgb "#4c78a8"   # no-op: nginx -> FastCGI, no job
set linetype 3 lc rgb "#e45756"   # boardhook
set linetype 4 lc rgb "#54a24b"   # Node.js peer

set ylabel "requests/s (higher is better)"
set yrange [0:*]
plot for [c in columns] rps using (column(int(c))):xtic(1) title columnheader(int(c)) lt (int(c) - 1)

set ylabel "p99 latency, ms, log scale (lower is better)"
set logscale y
set yrange [*:*]
plot for [c in columns] p99 using (column(int(c))):xtic(1) title columnheader(int(c)) lt (int(c) - 1)

unset multiplot

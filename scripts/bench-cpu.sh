#!/usr/bin/env bash
# bench-cpu.sh: rout's CPU training-step benchmark of convnet-small at batch 128 and the same step
# written with gorgonia (scripts/gorgonia, its own module), side by side, each repeated RUNS times,
# each reported as the median images/s over the runs (min..max).
#
# Usage: scripts/bench-cpu.sh            (from anywhere; about 2-4 minutes on 2 cores)
# Environment:
#   RUNS=5                 repetitions of each benchmark
#   GOMAXPROCS=2           threads for both (the CI machine has 2 cores)
#   ROUT_BENCH=...         go test -bench regexp for rout's step (default: convnet-small train steps)
#   ROUT_PKGS=./net/...    packages holding that benchmark
#   BENCHTIME=3x           go test -benchtime for each of rout's runs (go test also runs one untimed
#                          b.N=1 round first, which serves as warm-up)
#   ROUT_BATCH=128         batch size, to turn ns/op into img/s when a benchmark reports no img/s
#   OPT=sgd                gorgonia's optimiser, sgd or adam (use the one rout's benchmark uses)
#   SKIP_ROUT=1 / SKIP_GORGONIA=1  run only one side
#
# On a shared machine the numbers are noisy: compare medians, and look at the min..max spread.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
export GOMAXPROCS=${GOMAXPROCS:-2}
ROUT_BENCH=${ROUT_BENCH:-'BenchmarkTrainStep.*([Cc]onvnet|ConvNet)'}
ROUT_PKGS=${ROUT_PKGS:-./net/...}
ROUT_BATCH=${ROUT_BATCH:-128}
BENCHTIME=${BENCHTIME:-3x}
OPT=${OPT:-sgd}

if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
	echo "bench-cpu.sh: RUNS=$RUNS: want a positive integer" >&2
	exit 2
fi
echo "bench-cpu.sh: GOMAXPROCS=$GOMAXPROCS, $RUNS runs each, $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0

if [[ ${SKIP_ROUT:-} != 1 ]]; then
	# One benchmark run per -count repetition; each line is "BenchmarkName-P  iters  ns/op  [v unit]...".
	if ! (cd "$root" && go test -tags nocuda -run '^$' -bench "$ROUT_BENCH" -benchtime "$BENCHTIME" \
		-count "$RUNS" $ROUT_PKGS) >"$tmp/rout.txt" 2>&1; then
		echo "bench-cpu.sh: rout benchmark failed:" >&2
		cat "$tmp/rout.txt" >&2
		status=1
	elif ! grep -q '^Benchmark' "$tmp/rout.txt"; then
		echo "rout: no benchmark matches -bench '$ROUT_BENCH' in $ROUT_PKGS (set ROUT_BENCH / ROUT_PKGS)" >&2
		status=1
	else
		# img/s from the benchmark's own img/s metric if it reports one, else batch * 1e9 / ns/op.
		awk -v batch="$ROUT_BATCH" '
			/^Benchmark/ {
				name = $1; sub(/-[0-9]+$/, "", name)
				v = ""; ns = ""
				for (i = 3; i < NF; i++) {
					if ($(i+1) == "img/s" || $(i+1) == "images/s") v = $i
					if ($(i+1) == "ns/op") ns = $i
				}
				if (v == "" && ns != "") { v = batch * 1e9 / ns; src[name] = "from ns/op, batch " batch }
				if (v == "") next
				if (!(name in n)) order[++names] = name
				vals[name, ++n[name]] = v + 0
			}
			END {
				for (k = 1; k <= names; k++) {
					name = order[k]; m = n[name]
					for (i = 1; i <= m; i++) s[i] = vals[name, i]
					for (i = 2; i <= m; i++) for (j = i; j > 1 && s[j-1] > s[j]; j--) { t = s[j]; s[j] = s[j-1]; s[j-1] = t }
					med = (m % 2) ? s[(m+1)/2] : (s[m/2] + s[m/2+1]) / 2
					note = (name in src) ? " [" src[name] "]" : ""
					printf "rout %s: median %.1f img/s over %d runs (%.1f..%.1f)%s\n", name, med, m, s[1], s[m], note
				}
			}' "$tmp/rout.txt"
	fi
fi

if [[ ${SKIP_GORGONIA:-} != 1 ]]; then
	if ! (cd "$root/scripts/gorgonia" && go build -o "$tmp/gorgonia-convnet" .) 2>"$tmp/gbuild.txt"; then
		echo "bench-cpu.sh: building scripts/gorgonia failed:" >&2
		cat "$tmp/gbuild.txt" >&2
		status=1
	elif ! "$tmp/gorgonia-convnet" -bs "$ROUT_BATCH" -opt "$OPT" -runs "$RUNS" >"$tmp/gorgonia.txt" 2>&1; then
		echo "bench-cpu.sh: gorgonia benchmark failed:" >&2
		cat "$tmp/gorgonia.txt" >&2
		status=1
	else
		grep -E '^gorgonia (sanity|convnet-small)' "$tmp/gorgonia.txt"
	fi
fi
exit $status

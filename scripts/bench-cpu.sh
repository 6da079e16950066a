#!/usr/bin/env bash
# bench-cpu.sh: rout's CPU training-step benchmark (net/bench_test.go's BenchmarkTrainStep:
# inception28 at batch 32, convnet-small at batch 128) beside the same step in PyTorch on the CPU
# (scripts/bench_torch.py --cpu: same models, batches, threads and step) and convnet-small at
# batch 128 written with gorgonia (scripts/gorgonia, its own module): RUNS rounds, each round one
# run of every side (interleaved, so that load from other jobs on a shared machine hits all
# alike), then each side's median images/s over the rounds (min..max) and rout's ratio to PyTorch.
#
# Usage: scripts/bench-cpu.sh            (from anywhere; a few minutes on 2 idle cores)
# Environment:
#   RUNS=5                 rounds
#   GOMAXPROCS=2           threads for every side (the CI machine has 2 cores)
#   ROUT_BENCH=BenchmarkTrainStep
#                          go test -bench regexp for rout's step (net/bench_test.go: forward, summed
#                          softmax cross-entropy, backward; no optimiser update)
#   ROUT_PKG=./net         the package holding that benchmark
#   BENCHTIME=3x           -test.benchtime of each rout run (the benchmark runs one untimed step
#                          first, and go test one b.N=1 round before the timed one)
#   STEPS=5                timed gorgonia and PyTorch steps per run, after 2 untimed ones
#   BATCH=128              gorgonia's batch size, and the one used to turn ns/op into img/s when
#                          a rout benchmark reports no images/s
#   OPT=none               gorgonia's update: none (forward + backward, as rout's benchmark), sgd or adam
#   PYTHON=/usr/bin/python3  the python3 with PyTorch (Debian's python3-torch)
#   TORCH_MODELS="inception28:32 convnet-small:128"  PyTorch's model:batch pairs
#   SKIP_ROUT=1 / SKIP_GORGONIA=1 / SKIP_TORCH=1  leave a side out
#
# On a shared machine the numbers are noisy: compare medians, and look at the min..max spread.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
export GOMAXPROCS=${GOMAXPROCS:-2}
ROUT_BENCH=${ROUT_BENCH:-BenchmarkTrainStep}
ROUT_PKG=${ROUT_PKG:-./net}
BENCHTIME=${BENCHTIME:-3x}
STEPS=${STEPS:-5}
BATCH=${BATCH:-128}
OPT=${OPT:-none}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_MODELS=${TORCH_MODELS:-inception28:32 convnet-small:128}

for v in RUNS STEPS BATCH; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench-cpu.sh: $v=${!v}: want a positive integer" >&2
		exit 2
	fi
done
echo "bench-cpu.sh: GOMAXPROCS=$GOMAXPROCS, $RUNS rounds, $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/results" # lines "side name img/s [note]"

fail() {
	echo "bench-cpu.sh: $1:" >&2
	cat "$2" >&2
	exit 1
}

if [[ ${SKIP_ROUT:-} != 1 ]]; then
	(cd "$root" && go test -tags nocuda -c -o "$tmp/rout.test" "$ROUT_PKG") >"$tmp/log" 2>&1 ||
		fail "building rout's $ROUT_PKG tests failed" "$tmp/log"
fi
if [[ ${SKIP_GORGONIA:-} != 1 ]]; then
	(cd "$root/scripts/gorgonia" && go build -o "$tmp/gorgonia-convnet" .) >"$tmp/log" 2>&1 ||
		fail "building scripts/gorgonia failed" "$tmp/log"
	# Train a fixed batch first and stop unless the loss falls: never time a broken step.
	"$tmp/gorgonia-convnet" -bs "$BATCH" -opt "$OPT" -check 10 -warmup 0 -steps 1 -runs 1 >"$tmp/log" 2>&1 ||
		fail "gorgonia sanity check failed" "$tmp/log"
	grep '^gorgonia sanity' "$tmp/log"
fi
if [[ ${SKIP_TORCH:-} != 1 ]]; then
	"$PYTHON" -c 'import torch' >"$tmp/log" 2>&1 ||
		fail "$PYTHON cannot import torch (install python3-torch, set PYTHON, or SKIP_TORCH=1)" "$tmp/log"
	for mb in $TORCH_MODELS; do
		if ! [[ $mb =~ ^(inception28|convnet-small):[1-9][0-9]*$ ]]; then
			echo "bench-cpu.sh: TORCH_MODELS entry $mb: want inception28:BATCH or convnet-small:BATCH" >&2
			exit 2
		fi
	done
fi

for ((r = 1; r <= RUNS; r++)); do
	if [[ ${SKIP_ROUT:-} != 1 ]]; then
		# A line per benchmark: "BenchmarkName-P  iters  [v unit]...". The test binary runs in the
		# package's folder, as go test would.
		(cd "$root/${ROUT_PKG#./}" && "$tmp/rout.test" -test.run '^$' -test.bench "$ROUT_BENCH" \
			-test.benchtime "$BENCHTIME" -test.count 1) >"$tmp/log" 2>&1 ||
			fail "rout benchmark failed" "$tmp/log"
		grep -q '^Benchmark' "$tmp/log" ||
			fail "no benchmark in $ROUT_PKG matches -bench '$ROUT_BENCH' (set ROUT_BENCH / ROUT_PKG)" "$tmp/log"
		# img/s from the benchmark's own images/s metric if it reports one, else batch * 1e9 / ns/op.
		awk -v batch="$BATCH" '/^Benchmark/ {
			name = $1; sub(/-[0-9]+$/, "", name); v = ""; ns = ""
			for (i = 3; i < NF; i++) {
				if ($(i+1) == "img/s" || $(i+1) == "images/s") v = $i
				if ($(i+1) == "ns/op") ns = $i
			}
			if (v == "" && ns != "") print "rout", name, batch * 1e9 / ns, "[from ns/op, batch " batch "]"
			else if (v != "") print "rout", name, v
		}' "$tmp/log" >>"$tmp/results"
	fi
	if [[ ${SKIP_GORGONIA:-} != 1 ]]; then
		"$tmp/gorgonia-convnet" -bs "$BATCH" -opt "$OPT" -check 0 -warmup 2 -steps "$STEPS" -runs 1 \
			>"$tmp/log" 2>&1 || fail "gorgonia benchmark failed" "$tmp/log"
		awk -v name="convnet-small bs$BATCH ($OPT)" \
			'/^gorgonia run 1:/ { print "gorgonia", name, $(NF-1) }' "$tmp/log" >>"$tmp/results"
	fi
	if [[ ${SKIP_TORCH:-} != 1 ]]; then
		for mb in $TORCH_MODELS; do
			# Named as rout's benchmark of the same model and batch, for the ratio below.
			"$PYTHON" "$root/scripts/bench_torch.py" --cpu --model "${mb%:*}" --batch "${mb#*:}" \
				--threads "$GOMAXPROCS" --steps "$STEPS" --warmup 2 --repeats 1 >"$tmp/log" 2>&1 ||
				fail "PyTorch benchmark of $mb failed" "$tmp/log"
			awk -v name="BenchmarkTrainStep/${mb%:*}/b${mb#*:}" \
				'/^torch cpu / { print "torch", name, $5 }' "$tmp/log" >>"$tmp/results"
		done
	fi
done

# Median, min and max per (side, name), in order of first appearance. Names may hold spaces;
# the value is the first field after the name that is a number, so name = fields before it.
awk '
	{
		for (i = 2; i <= NF && $i !~ /^[0-9.]+(e[+-]?[0-9]+)?$/; i++) {}
		key = $1; for (j = 2; j < i; j++) key = key " " $j
		note = ""; for (j = i + 1; j <= NF; j++) note = note " " $j
		if (!(key in n)) { order[++keys] = key; notes[key] = note }
		vals[key, ++n[key]] = $i + 0
	}
	END {
		for (k = 1; k <= keys; k++) {
			key = order[k]; m = n[key]
			for (i = 1; i <= m; i++) s[i] = vals[key, i]
			for (i = 2; i <= m; i++) for (j = i; j > 1 && s[j-1] > s[j]; j--) { t = s[j]; s[j] = s[j-1]; s[j-1] = t }
			med = (m % 2) ? s[(m+1)/2] : (s[m/2] + s[m/2+1]) / 2
			printf "%s: median %.1f img/s over %d runs (%.1f..%.1f)%s\n", key, med, m, s[1], s[m], notes[key]
			median[key] = med
		}
		for (k = 1; k <= keys; k++) {
			key = order[k]
			if (key !~ /^rout /) continue
			t = key; sub(/^rout /, "torch ", t)
			if (t in median && median[t] > 0) printf "%s: rout / PyTorch = %.2f\n", substr(key, 6), median[key] / median[t]
		}
	}' "$tmp/results"

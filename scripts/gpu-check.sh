#!/usr/bin/env bash
# gpu-check.sh: verify rout's GPU code on a GPU machine in one prepared run (../shared/DEVICE.md).
#
#   scripts/gpu-check.sh            host mode (a machine with Go): build every GPU test
#                                   binary and the CLI into .gpu/bin.tar.gz, copy the declaration check and the
#                                   CIFAR-10 JPEG archive there. Then copy .gpu/ (with the repository)
#                                   to the GPU machine.
#   scripts/gpu-check.sh --device   device mode (the GPU machine, from the repository root, no Go):
#                                   set the library path, check our C declarations against NVIDIA's
#                                   headers, run `rout info` and every test binary (-test.v,
#                                   ROUT_REQUIRE_GPU=1, NVIDIA_TF32_OVERRIDE=0), keep full logs in
#                                   $OUT (or .gpu/logs), and print one summary table last.
#
# Device mode exits 0 when every step passed. Each step has a time limit (GPU_CHECK_STEP_TIMEOUT
# seconds, default 150); the whole run is meant to fit in about five minutes of device time.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
gpu=$root/.gpu

# Packages whose tests read ROUT_REQUIRE_GPU are found automatically; these are added to them.
ALWAYS_PKGS=(cudnn kernels net/gpu)
# Packages left out: cmd/rout's test binary is as big as the CLI, whose `rout info` step checks
# the same thing (a device run carries at most 64 MiB).
SKIP_PKGS=(cmd/rout)
# Optional -test.run filter per package, to leave slow CPU-only tests out of the device run
# (they run in CI). trainer: only its GPU tests, whose names contain "GPU".
declare -A TEST_RUN=([trainer]='GPU')

# Extra device steps, "name|command", run from the repository root after the tests, timed and
# logged like them (benchmarks, end-to-end runs). The environment has LD_LIBRARY_PATH,
# NVIDIA_TF32_OVERRIDE=0, ROUT_REQUIRE_GPU=1, GPU_BIN (the folder of the binaries: rout, NAME.test)
# and ROUT_GPU_CHECK_DATA (the folder holding cifar10/CIFAR-10-images-jpeg.tar.gz). More can be
# given at run time in GPU_CHECK_EXTRA, one "name|command" a line.
EXTRA_STEPS=(
	# "bench-inception28|\"$GPU_BIN/rout\" bench --model inception28 --batch 128 --optimizer adam"
)

host() {
	command -v go >/dev/null || { echo "gpu-check: host mode needs Go" >&2; exit 1; }
	rm -rf "$gpu/bin" "$gpu/bin.tar.gz" "$gpu/declcheck" "$gpu/packages.txt" "$gpu/logs" "$gpu/cache"
	mkdir -p "$gpu/bin" "$gpu/declcheck" "$gpu/shared/data/cifar10"
	export CGO_ENABLED=1
	local flags=(-trimpath -ldflags=-s\ -w)
	local pkgs=("${ALWAYS_PKGS[@]}") p
	while IFS= read -r p; do pkgs+=("$p"); done < <(grep -rl --include='*_test.go' ROUT_REQUIRE_GPU . |
		xargs -r -n1 dirname | sed 's|^\./||' | sort -u)
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	: >"$gpu/packages.txt"
	for p in "${pkgs[@]}"; do
		if [[ " ${SKIP_PKGS[*]} " == *" $p "* ]]; then
			continue
		fi
		if [[ ! -d $p ]] || ! compgen -G "$p/*_test.go" >/dev/null; then
			echo "gpu-check: $p: no tests, skipped"
			continue
		fi
		local name=${p//\//-}
		echo "gpu-check: building $p -> .gpu/bin/$name.test"
		go test -c "${flags[@]}" -o "$gpu/bin/$name.test" "./$p" || exit 1
		printf '%s\t%s\t%s\n' "$name" "$p" "${TEST_RUN[$p]:-}" >>"$gpu/packages.txt"
	done
	echo "gpu-check: building the CLI -> .gpu/bin/rout"
	go build "${flags[@]}" -o "$gpu/bin/rout" ./cmd/rout || exit 1
	cp cudnn/rout_cuda.h cudnn/testdata/declcheck.c cudnn/testdata/declcheck.sh "$gpu/declcheck/"
	local archive=../shared/data/cifar10/CIFAR-10-images-jpeg.tar.gz
	if [[ -f $archive ]]; then
		cp "$archive" ../shared/data/cifar10/batches.meta.txt "$gpu/shared/data/cifar10/"
	else
		echo "gpu-check: $archive not found; device steps that need data will not have it"
	fi
	du -sh "$gpu"/bin/* "$gpu/shared" | sed 's/^/  /'
	# Compressed for the trip (a device run carries at most 64 MiB); device mode unpacks it.
	tar -czf "$gpu/bin.tar.gz" -C "$gpu" bin && rm -rf "$gpu/bin"
	local mib=$(($(du -sk --exclude=logs "$gpu" | cut -f1) / 1024))
	echo "gpu-check: .gpu holds ${mib} MiB$( ((mib > 60)) && echo ' (WARNING: more than the 64 MiB a device run can carry)')"
	echo "gpu-check: now run on the GPU machine, from the repository root: scripts/gpu-check.sh --device"
}

# Device mode bookkeeping: one row per step.
names=() results=() times=() logs=()
step_no=0

run_step() { # name, command (bash)
	local name=$1 cmd=$2
	step_no=$((step_no + 1))
	local log
	log=$(printf '%s/%02d-%s.log' "$out" "$step_no" "$name")
	echo "== $name: $cmd"
	local t0=$SECONDS rc
	timeout --kill-after=10 "${GPU_CHECK_STEP_TIMEOUT:-150}" bash -c "$cmd" >"$log" 2>&1
	rc=$?
	local dt=$((SECONDS - t0)) res
	case $rc in
	0) res=PASS ;;
	124 | 137) res="TIMEOUT" ;;
	*) res="FAIL (exit $rc)" ;;
	esac
	if grep -q -- '^=== RUN' "$log"; then # a Go test log: count the tests
		local np nf ns
		np=$(grep -c -- '--- PASS' "$log") nf=$(grep -c -- '--- FAIL' "$log") ns=$(grep -c -- '--- SKIP' "$log")
		res="$res: $np passed, $nf failed, $ns skipped"
	fi
	tail -n 3 "$log" | sed 's/^/   /'
	names+=("$name") results+=("$res") times+=("${dt}s") logs+=("$(basename "$log")")
	[[ $rc == 0 ]]
}

device() {
	[[ -f $gpu/packages.txt ]] || { echo "gpu-check: no .gpu/packages.txt: run scripts/gpu-check.sh on a machine with Go first and copy .gpu/ here" >&2; exit 1; }
	if [[ -f $gpu/bin.tar.gz ]]; then
		tar -xzf "$gpu/bin.tar.gz" -C "$gpu" || { echo "gpu-check: cannot unpack .gpu/bin.tar.gz" >&2; exit 1; }
	fi
	out=${OUT:-$gpu/logs}
	mkdir -p "$out"
	export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export NVIDIA_TF32_OVERRIDE=0 ROUT_REQUIRE_GPU=1 ROUT_GPU_CHECK_DATA=$gpu/shared/data GPU_BIN=$gpu/bin
	export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$gpu/cache} # the kernel cache, kept with the run
	local start=$SECONDS failed=0

	run_step nvidia-smi "nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv" || true
	run_step declcheck "bash '$gpu/declcheck/declcheck.sh' '$gpu/declcheck'" || failed=1
	run_step rout-info "'$gpu/bin/rout' info && '$gpu/bin/rout' info | tail -n 1 | grep -q '^gpu: usable'" || failed=1
	local name pkg filter
	while IFS=$'\t' read -r name pkg filter; do
		local args="-test.v -test.timeout 140s"
		[[ -n $filter ]] && args="$args -test.run '$filter'"
		run_step "$name" "cd '$root/$pkg' && '$gpu/bin/$name.test' $args" || failed=1
	done <"$gpu/packages.txt"
	local e
	for e in "${EXTRA_STEPS[@]}"; do
		run_step "${e%%|*}" "${e#*|}" || failed=1
	done
	if [[ -n ${GPU_CHECK_EXTRA:-} ]]; then
		while IFS= read -r e; do
			[[ -n $e ]] && { run_step "${e%%|*}" "${e#*|}" || failed=1; }
		done <<<"$GPU_CHECK_EXTRA"
	fi

	{
		echo
		echo "gpu-check summary ($(hostname), $((SECONDS - start))s, logs in $out)"
		printf '%-3s %-22s %-45s %7s  %s\n' "#" step result time log
		local i
		for i in "${!names[@]}"; do
			printf '%-3s %-22s %-45s %7s  %s\n' "$((i + 1))" "${names[$i]}" "${results[$i]}" "${times[$i]}" "${logs[$i]}"
		done
		[[ $failed == 0 ]] && echo "gpu-check: all steps passed" || echo "gpu-check: FAILED"
	} | tee "$out/summary.txt"
	return $failed
}

case ${1:-} in
"") host ;;
--device) device ;;
*) echo "usage: scripts/gpu-check.sh [--device]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# gpu-run.sh: the one prepared run of rout's GPU work (issues 5 and 6) on the GPU machine of
# ../shared/DEVICE.md, where device time is short: everything is built here, and there each phase
# runs under its own time limit and leaves its logs even when a later one hangs.
#
#   scripts/gpu-run.sh                        host mode (a machine with Go): build
#                                             everything into .gpu/ with scripts/gpu-check.sh (the
#                                             test binaries, trainer's parity test among them, and
#                                             the CLI, packed in bin.tar.gz; the CIFAR-10 JPEG
#                                             archive), check its size, say how to run it.
#   scripts/gpu-run.sh --device PHASE...      device mode (the GPU machine, repository root, with
#                                             the .gpu/ built here): run the phases in order.
#       [--epochs N] [--seeds RANGE]          epochs and seeds of the real sweep (default 3, 1-2)
#
# Phases, in the order of priority of issue 6 (`all` is all four in this order):
#   check    scripts/gpu-check.sh --device: declarations against the headers, `rout info`, and
#            the binding, kernel and backend tests against the CPU (the revival rules' kernels,
#            net/gpu's TestRevivalStatistics and TestResetOutgoingAndCBPStep, among them).
#   parity   trainer's TestGPUMatchesCPU on the JPEG CIFAR-10 archive: 20 steps of the paper
#            preset on GPU and CPU (TF32 off, deterministic algorithms): in lockstep (every step
#            from the CPU's state; losses and every filter's re-draw decision compared), run free
#            (losses compared, with `rout train`'s GPU defaults), a variant that forces re-draws
#            (legacy cuDNN API on channel slices, graph API, packed tensors), and pairs of
#            deterministic GPU runs that must agree bit for bit (a rerun, and a run whose steps are
#            CUDA graphs against one made call by call).
#   speed    `rout bench` and scripts/bench_torch.py, inception28, batch 128, fp32, without a
#            revival rule and with each (rout: RandomOut, ReDo and continual backprop checking
#            every step, each to cost at most 2% of the step; PyTorch: RandomOut), side by side: SGD (rout as it is, on packed convolution tensors,
#            with --plans; with CUDA graphs; on channel slices; PyTorch eager and --profile,
#            torch.compile too with GPU_RUN_TORCH_COMPILE=1), Adam (rout, also with CUDA graphs;
#            PyTorch eager), then SGD
#            with CUDA graphs and cuDNN's graph API, on slices and on packed tensors.
#   real     one `rout train --preset paper --device gpu --cudnn-graph --cuda-graph
#            --randomout --seed 2` for --epochs epochs (the fastest settings, which a sweep of
#            several runs at once cannot use); then `rout sweep --preset paper --device gpu` on
#            the archive for --epochs epochs and --seeds seeds, four arms (baseline, RandomOut,
#            RandomOut with the bias re-drawn too, He's initialiser), 4 runs at once, and its
#            report (failure rates, accuracies, tests).
#   pack     packs of runs trained as one network (`rout sweep --pack`), on its own within one
#            device call (`--device pack`, not part of `all`): parity (trainer's
#            TestGPUPackMatchesCPU: four runs of the paper preset as one pack, each member in
#            lockstep with its run alone on the CPU over 20 steps, TF32 off, deterministic
#            algorithms: losses within 1e-3, the same re-draw decisions but for edge cases); then
#            speed in fp32, Adam, inception28, batch 128, side by side: `rout bench --pack` 1, 4
#            and 16, and scripts/bench_torch.py --pack 4 (PyTorch's vmap ensemble, and 4
#            processes); then, while its time lasts, --pack 8 and 32, --tf32 at 1 and 4, and a
#            packed sweep of the paper preset (3 epochs, seeds 1-8, baseline and RandomOut).
#
# Output: $OUT/summary.txt (each phase's figures, then the table: phase, result, seconds, key
# numbers) and $OUT/logs.tar.gz (every log and run record, checkpoints left out), both rewritten
# after every phase; the same summary is printed last. Without $OUT they go to .gpu/out.
# Time limits (seconds) can be changed with GPU_RUN_LIMIT_CHECK, _PARITY, _SPEED and _REAL.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
gpu=$root/.gpu
self=$root/scripts/gpu-run.sh
archive=$gpu/shared/data/cifar10/CIFAR-10-images-jpeg.tar.gz # where gpu-check.sh puts it
carry_mib=64                                                  # what a device run can carry

die() {
	echo "gpu-run: $*" >&2
	exit 1
}

# --- host mode --------------------------------------------------------------------------------

host() {
	command -v go >/dev/null || die "host mode needs Go"
	bash scripts/gpu-check.sh || die "scripts/gpu-check.sh (host mode) failed"
	# gpu-check leaves the binaries in .gpu/bin, or packed into .gpu/bin.tar.gz for the trip.
	# It builds every package whose tests read ROUT_REQUIRE_GPU, trainer included; should it
	# ever stop, build the trainer tests here with the same flags (repacking where it packs).
	local bins=$gpu/bin packed=0
	[[ -f $gpu/bin.tar.gz ]] && packed=1
	if ! { [[ -x $bins/trainer.test ]] || { ((packed)) && tar -tzf "$gpu/bin.tar.gz" bin/trainer.test >/dev/null 2>&1; }; }; then
		((packed)) && { tar -xzf "$gpu/bin.tar.gz" -C "$gpu" || die "unpacking .gpu/bin.tar.gz"; }
		echo "gpu-run: building trainer -> .gpu/bin/trainer.test"
		CGO_ENABLED=1 go test -c -trimpath -ldflags='-s -w' -o "$bins/trainer.test" ./trainer || die "building the trainer tests failed"
		if ((packed)); then
			tar -czf "$gpu/bin.tar.gz" -C "$gpu" bin && rm -rf "$bins" || die "repacking .gpu/bin.tar.gz"
		fi
	fi
	# The parity test is this script's parity phase (with the CIFAR-10 archive and a longer time
	# limit): leave the trainer package out of gpu-check's device run, which would run it too.
	awk -F'\t' '$2 != "trainer"' "$gpu/packages.txt" >"$gpu/packages.txt.tmp" && mv "$gpu/packages.txt.tmp" "$gpu/packages.txt" ||
		die "editing .gpu/packages.txt"
	if [[ ! -f $archive ]]; then
		local src=../shared/data/cifar10/CIFAR-10-images-jpeg.tar.gz
		[[ -f $src ]] || die "$src not found: the parity and real phases need it"
		mkdir -p "$(dirname "$archive")" && cp "$src" "$archive" || die "copying $src"
	fi
	[[ -f scripts/bench_torch.py ]] || die "scripts/bench_torch.py is missing (the speed phase runs it)"
	rm -rf "$gpu/out" "$gpu/run-logs" # results of an earlier device run are not carried back there
	local kib
	kib=$(du -sk "$gpu" | cut -f1)
	((kib <= carry_mib * 1024)) || die ".gpu holds $((kib / 1024)) MiB, more than a device run carries (${carry_mib} MiB)"
	echo "gpu-run: .gpu ready ($((kib / 1024)) MiB):"
	(cd "$gpu" && find . -type f | sort | sed 's|^\./|  .gpu/|')
	((packed)) && tar -tzvf "$gpu/bin.tar.gz" | awk '$6 !~ /\/$/ { printf "    %-20s %5.1f MiB\n", $6, $3 / 1048576 }'
	echo "gpu-run: on the GPU machine, from the repository root, with .gpu carried:"
	echo "  scripts/gpu-run.sh --device all     # or some of: check parity speed real pack [--epochs N] [--seeds RANGE]"
}

# --- device mode ------------------------------------------------------------------------------

# Time limits per phase (seconds): 580 in all at worst, within one 600 s device call, while `all`
# took 258-283 s on an H200 (2026-11-27; before the real phase's fast `rout train`). Each phase
# rewrites the summary, so a call cut off at its own limit still brings back every finished phase.
declare -A limit=([check]=${GPU_RUN_LIMIT_CHECK:-60} [parity]=${GPU_RUN_LIMIT_PARITY:-190}
	[speed]=${GPU_RUN_LIMIT_SPEED:-200} [real]=${GPU_RUN_LIMIT_REAL:-130} [pack]=${GPU_RUN_LIMIT_PACK:-530})

device() {
	local phases=() p
	export GPU_RUN_EPOCHS=3 GPU_RUN_SEEDS=1-2
	while (($#)); do
		case $1 in
		--epochs)
			[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--epochs wants a positive integer, got '${2:-}'"
			GPU_RUN_EPOCHS=$2
			shift 2
			;;
		--seeds)
			[[ ${2:-} =~ ^[0-9][0-9,-]*$ ]] || die "--seeds wants a seed list such as 1-4 or 1,3,5, got '${2:-}'"
			GPU_RUN_SEEDS=$2
			shift 2
			;;
		all) phases+=(check parity speed real) && shift ;;
		check | parity | speed | real | pack) phases+=("$1") && shift ;;
		*) die "unknown phase '$1' (want check, parity, speed, real, pack or all)" ;;
		esac
	done
	((${#phases[@]})) || die "usage: scripts/gpu-run.sh --device PHASE... [--epochs N] [--seeds RANGE] (phases: check parity speed real pack all)"
	if [[ -f $gpu/bin.tar.gz ]]; then # packed by gpu-check's host mode
		tar -xzf "$gpu/bin.tar.gz" -C "$gpu" || die "cannot unpack .gpu/bin.tar.gz"
	fi
	[[ -x $gpu/bin/rout ]] || die "no .gpu/bin/rout: run scripts/gpu-run.sh on a machine with Go and carry .gpu here"
	export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export NVIDIA_TF32_OVERRIDE=0 ROUT_REQUIRE_GPU=1
	export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$gpu/cache} # rout's NVRTC kernel cache, shared by the phases
	out=${OUT:-$gpu/out}
	# Logs live outside $OUT (which returns only a few files) and are packed into it.
	export GPU_RUN_LOGS=$gpu/run-logs/$(date +%Y%m%d-%H%M%S)
	mkdir -p "$out" "$GPU_RUN_LOGS" || die "cannot create $out and $GPU_RUN_LOGS"
	echo "gpu-run: phases ${phases[*]} on $(hostname); logs in $GPU_RUN_LOGS, results in $out"

	rows=() failed=0
	local start=$SECONDS
	for p in "${phases[@]}"; do
		echo "== $p (limit ${limit[$p]}s) started at $(date +%T)"
		local t0=$SECONDS rc res
		timeout --kill-after=10 "${limit[$p]}" bash "$self" --phase "$p" >"$GPU_RUN_LOGS/$p.log" 2>&1
		rc=$?
		case $rc in
		0) res=PASS ;;
		124 | 137) res=TIMEOUT ;;
		*) res="FAIL($rc)" ;;
		esac
		[[ $res == PASS ]] || failed=1
		local key
		key=$(head -c 800 "$GPU_RUN_LOGS/$p.key" 2>/dev/null | tr '\n' ' ')
		rows+=("$(printf '%-7s %-9s %5ss  %s' "$p" "$res" $((SECONDS - t0)) "${key:-see $p.log}")")
		echo "== $p: $res in $((SECONDS - t0))s"
		# A phase cut off before writing its figures is summarised by the end of its log.
		[[ -f $GPU_RUN_LOGS/$p.report ]] || tail -n 30 "$GPU_RUN_LOGS/$p.log" >"$GPU_RUN_LOGS/$p.report"
		tail -n 4 "$GPU_RUN_LOGS/$p.log" | sed 's/^/   /'
		write_summary "$((SECONDS - start))" "${phases[@]}"
	done
	echo
	cat "$out/summary.txt"
	return $failed
}

# write_summary rewrites $out/summary.txt and $out/logs.tar.gz from what the phases left so far.
write_summary() {
	local total=$1 p
	shift
	{
		for p in "$@"; do
			[[ -f $GPU_RUN_LOGS/$p.report ]] || continue
			echo "## $p"
			cat "$GPU_RUN_LOGS/$p.report"
			echo
		done
		echo "gpu-run summary ($(hostname), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1), ${total}s; logs.tar.gz holds every log)"
		printf '%-7s %-9s %6s  %s\n' phase result time "key numbers"
		printf '%s\n' "${rows[@]}"
	} >"$out/summary.txt.tmp" && mv "$out/summary.txt.tmp" "$out/summary.txt"
	cp "$out/summary.txt" "$GPU_RUN_LOGS/summary.txt"
	tar -C "$(dirname "$GPU_RUN_LOGS")" --exclude='*.safetensors' -czf "$out/logs.tar.gz.tmp" "$(basename "$GPU_RUN_LOGS")" &&
		mv "$out/logs.tar.gz.tmp" "$out/logs.tar.gz"
}

# --- phases (each runs as its own process, under its time limit; stdout goes to PHASE.log) -----
# A phase writes PHASE.report (the figures for the summary) and PHASE.key (one line).

phase_check() {
	local dir rc
	dir=$GPU_RUN_LOGS/check
	OUT=$dir bash "$root/scripts/gpu-check.sh" --device
	rc=$?
	[[ -f $dir/summary.txt ]] || { echo "gpu-check left no summary" >"$GPU_RUN_LOGS/check.key"; return 1; }
	grep -v '^$' "$dir/summary.txt" >"$GPU_RUN_LOGS/check.report"
	# Rows are "N name result... time log"; a passing result starts with PASS.
	awk '/^[0-9]+ / { n++; if ($3 ~ /^PASS/) ok++; else bad = bad " " $2 }
		END { printf "%d/%d steps passed%s", ok, n, (bad == "" ? "" : "; not passed:" bad) }' \
		"$dir/summary.txt" >"$GPU_RUN_LOGS/check.key"
	return $rc
}

phase_parity() {
	local log rc
	log=$GPU_RUN_LOGS/parity-test.log
	[[ -f $archive ]] || { echo "no $archive" >"$GPU_RUN_LOGS/parity.key"; return 1; }
	(cd "$root/trainer" && ROUT_PARITY_DATA=folder:$archive "$gpu/bin/trainer.test" -test.v \
		-test.run '^TestGPUMatchesCPU$' -test.timeout "$(( ${limit[parity]} > 45 ? ${limit[parity]} - 15 : 30 ))s") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# The report is the test's own output, without a panic's goroutine dump (in the full log).
	grep -v '^=== ' "$log" | sed 's/^    //' |
		awk '/^goroutine [0-9]+ \[/ { print "(goroutine dump: see parity-test.log)"; exit } { print }' >"$GPU_RUN_LOGS/parity.report"
	# Key numbers per subtest; `go test -v` names the test whose output follows in "=== RUN",
	# "=== CONT" and "=== NAME" lines.
	awk '/^=== (RUN|CONT|NAME)/ { sub(/^TestGPUMatchesCPU\//, "", $3); cur = $3 }
		/largest relative loss difference/ { v = $0; sub(/.*largest relative loss difference (over [^:]*: )?/, "", v); sub(/ .*/, "", v); loss[cur] = v }
		/re-draw decisions differ/ { v = $0; sub(/.*\); /, "", v); sub(/ re-draw decisions differ.*/, "", v); flips[cur] = v }
		/counts part at step/ { v = $0; sub(/.*counts part at step /, "", v); sub(/ .*/, "", v); part[cur] = v }
		/final weights differ/ { v = $0; sub(/.*steps: /, "", v); sub(/ final weights differ.*/, "", v); bits[cur] = v }
		/--- (PASS|FAIL|SKIP): TestGPUMatchesCPU\// { r = $2; sub(/:$/, "", r); t = $3; sub(/^TestGPUMatchesCPU\//, "", t); res[t] = r }
		END { n = split("paper paper-free redraws gpu-rerun cuda-graph cuda-graph-graph-api redraws-graph redraws-packed redraws-graph-packed", names, " ")
			for (i = 1; i <= n; i++) {
				s = names[i]
				printf "%s %s: loss rel diff max %s", s, (s in res) ? res[s] : "no result", (s in loss) ? loss[s] : "n/a"
				if (s in flips) printf ", flipped decisions %s", flips[s]
				if (s in part) printf ", free runs part at step %s", part[s]
				if (s in bits) printf ", final weights differing %s", bits[s]
				printf "; " } }' \
		"$log" >"$GPU_RUN_LOGS/parity.key"
	return $rc
}

# torch_python prints a python3 that imports torch.
torch_python() {
	local py
	for py in ${PYTHON:-} python3 /opt/torch/.venv/bin/python3; do
		command -v "$py" >/dev/null && env -u LD_LIBRARY_PATH "$py" -c 'import torch' 2>/dev/null && { echo "$py"; return 0; }
	done
	return 1
}

phase_speed() {
	local py rc=0 d opt tool
	d=$GPU_RUN_LOGS
	py=$(torch_python) || echo "gpu-run: no python3 with torch found (tried \$PYTHON, python3, /opt/torch/.venv/bin/python3)"
	# SGD first: rout as it is (packed convolution tensors, its default), with CUDA graphs too,
	# and on channel slices (--cudnn-packed=false) (quick); PyTorch (eager and the kernel
	# profile); Adam (rout, also with CUDA graphs; PyTorch eager); last, as the slowest (the
	# graph API's engine search), rout with cuDNN's graph API and CUDA graphs, on slices and on
	# packed tensors. The summary is rewritten after each command, so that a phase cut short by
	# its limit still reports what it measured.
	local run
	for run in rout:sgd routcg:sgd routsl:sgd torch:sgd rout:adam routcg:adam torch:adam routgraph:sgd routall:sgd; do
		tool=${run%:*} opt=${run#*:}
		{
			local f=$d/speed-$tool-$opt.txt cap=60 r=0
			[[ $tool == routgraph || $tool == routall ]] && cap=90 # the graph API's engine search
			[[ $tool == torch ]] && cap=$([[ $opt == sgd && ${GPU_RUN_TORCH_COMPILE:-0} == 1 ]] && echo 130 || echo 60)
			echo "== $tool --optimizer $opt (limit ${cap}s)"
			if [[ $tool == rout* ]]; then
				local extra=()
				case $tool in
				rout) [[ $opt == sgd ]] && extra=(--plans) ;;
				routcg) extra=(--cuda-graph --plans) ;;
				routsl) extra=(--cudnn-packed=false --plans) ;;
				routgraph) extra=(--cudnn-graph --cudnn-packed=false --cuda-graph --plans) ;;
				routall) extra=(--cudnn-graph --cuda-graph --plans) ;;
				esac
				timeout --kill-after=5 $cap "$gpu/bin/rout" bench --device gpu --model inception28 --batch 128 --optimizer "$opt" "${extra[@]}" >"$f" 2>&1
				r=$?
			elif [[ -n ${py:-} ]]; then
				# Without our LD_LIBRARY_PATH: PyTorch bundles cuDNN 9.19 and refuses the system's 9.14
				# ("cuDNN version incompatibility", seen on the H200 machine).
				# torch.compile (measured once: 9.631 ms against eager's 7.553) is left out unless
				# GPU_RUN_TORCH_COMPILE=1: it takes a minute of the phase's time.
				local extra=(--no-compile)
				[[ ${GPU_RUN_TORCH_COMPILE:-0} == 1 && $opt == sgd ]] && extra=()
				[[ $opt == sgd ]] && extra+=(--profile)
				timeout --kill-after=5 $cap env -u LD_LIBRARY_PATH "$py" "$root/scripts/bench_torch.py" --model inception28 --batch 128 --optimizer "$opt" "${extra[@]}" >"$f" 2>&1
				r=$?
			else
				echo "no python3 with torch" >"$f"
				r=1
			fi
			case $r in
			0) ;;
			124 | 137) echo "gpu-run: $tool --optimizer $opt timed out after ${cap}s" >>"$f" ;;
			*) echo "gpu-run: $tool --optimizer $opt exited $r" >>"$f" ;;
			esac
			((r == 0)) || rc=1
			cat "$f"
			speed_summary "$d"
		}
	done
	return $rc
}

phase_pack() {
	local d=$GPU_RUN_LOGS log rc=0 r py t0=$SECONDS
	[[ -f $archive ]] || { echo "no $archive" >"$d/pack.key"; return 1; }
	# Parity first: each member of a pack of 4 against its run alone on the CPU.
	log=$d/pack-parity.log
	(cd "$root/trainer" && ROUT_PARITY_DATA=folder:$archive timeout --kill-after=5 200 "$gpu/bin/trainer.test" -test.v \
		-test.run '^TestGPUPackMatchesCPU$' -test.timeout 190s) >"$log" 2>&1
	r=$?
	((r == 0)) || rc=1
	{
		echo "== parity: TestGPUPackMatchesCPU exited $r"
		grep -E 'member [0-9]: [0-9]+ steps|--- (PASS|FAIL)|FAIL|panic' "$log"
		echo
	} >"$d/pack.report"
	grep -E '^--- (PASS|FAIL)' "$log" | head -1 | awk '{ printf "parity %s; ", $2 }' >"$d/pack.key"
	py=$(torch_python) || echo "gpu-run: no python3 with torch found"
	# Speed: K = 1, 4 and 16, then PyTorch at K = 4; then K = 8 and 32 and TF32 while time lasts.
	local run k
	for run in 1 4 16 torch4 8 32 tf1 tf4; do
		(( ${limit[pack]} - (SECONDS - t0) > 70 )) || { echo "gpu-run: pack: no time left for $run" >>"$d/pack.report"; break; }
		local f=$d/pack-speed-$run.txt
		case $run in
		torch4)
			if [[ -z ${py:-} ]]; then echo "no python3 with torch" >"$f"; r=1; else
				timeout --kill-after=5 120 env -u LD_LIBRARY_PATH "$py" "$root/scripts/bench_torch.py" --model inception28 --batch 128 \
					--optimizer adam --no-compile --pack 4 >"$f" 2>&1
				r=$?
			fi ;;
		tf*)
			k=${run#tf}
			timeout --kill-after=5 60 "$gpu/bin/rout" bench --device gpu --model inception28 --batch 128 --optimizer adam --tf32 --pack "$k" >"$f" 2>&1
			r=$? ;;
		*)
			timeout --kill-after=5 60 "$gpu/bin/rout" bench --device gpu --model inception28 --batch 128 --optimizer adam --pack "$run" >"$f" 2>&1
			r=$? ;;
		esac
		((r == 0)) || { echo "gpu-run: pack $run exited $r" >>"$f"; rc=1; }
		{
			echo "== speed: $run"
			grep -E '^(rout bench|torch bench|device:|\||RandomOut overhead|tensors allocated|torch vmap: peak|gpu-run)' "$f"
			echo
		} >>"$d/pack.report"
		# Key numbers: plain images/s per run.
		awk -v run="$run" -F'|' '$3 ~ /plain/ { gsub(/ /, "", $5); printf "%s %s: %s img/s; ", run, $2, $5 }' "$f" | sed 's/  */ /g' >>"$d/pack.key"
	done
	# Last, while time lasts: a packed sweep of the paper preset, 3 epochs, seeds 1-8, baseline
	# and RandomOut (16 runs in one pack), against the README's unpacked sweep figures.
	local left=$((${limit[pack]} - (SECONDS - t0) - 20))
	if ((left > 120)); then
		timeout --kill-after=5 "$left" "$gpu/bin/rout" sweep --preset paper --device gpu --data "folder:$archive" --epochs 3 \
			--seeds 1-8 --arms baseline,randomout --pack 16 --out "$d/pack-sweep" >"$d/pack-sweep.log" 2>&1
		r=$?
		{
			echo "== packed sweep (exit $r)"
			grep -E '^sweep |runs done|^\|' "$d/pack-sweep.log" | head -40
		} >>"$d/pack.report"
		grep -E 'runs done' "$d/pack-sweep.log" | tail -1 | sed 's/^/sweep: /; s/$/; /' >>"$d/pack.key"
	else
		echo "gpu-run: pack: no time left for the packed sweep" >>"$d/pack.report"
	fi
	return $rc
}

# speed_summary writes speed.report (both tools' tables side by side, per optimiser) and
# speed.key from the bench outputs present.
speed_summary() {
	local d=$1 opt
	: >"$d/speed.report"
	: >"$d/speed.key"
	for opt in sgd adam; do
		local fs=() tool
		for tool in rout torch routcg routsl routgraph routall; do
			[[ -f $d/speed-$tool-$opt.txt ]] && fs+=("$d/speed-$tool-$opt.txt")
		done
		((${#fs[@]})) || continue
		{
			echo "### $opt: inception28, batch 128, fp32 (TF32 off)"
			grep -hE '^(rout bench|torch bench|device):' "${fs[@]}"
			echo "| tool | mode | ms/step | images/s | host ms/step (rout) |"
			echo "|---|---|---:|---:|---:|"
			grep -hE '^\| (rout|torch)' "${fs[@]}"
			grep -hE '^(RandomOut|ReDo|Continual backprop) overhead|^convolutions by|^torch eager profile|^CUDA graphs:|^host time to queue' "${fs[@]}"
			grep -hiE '^(rout|gpu-run):|error|Traceback|no python3' "${fs[@]}" | head -n 6
			echo
		} >>"$d/speed.report"
		# Key numbers, and issue 6's two bars: rout's images/s (its best setting) at least torch
		# eager's, and RandomOut adding at most 3% to that setting's step time.
		awk -F'|' -v opt="$opt" '
			/^\| (rout|torch)/ {
				for (i = 2; i <= 5; i++) { gsub(/^ +| +$/, "", $i) }
				ips[$2 "/" $3] = $5; ms[$2 "/" $3] = $4
				if ($2 ~ /^rout/ && $3 == "plain" && $5 + 0 > best + 0) { best = $5; bestTool = $2 }
			}
			function get(k) { return (k in ips) ? ips[k] : "n/a" }
			END {
				te = get("torch eager/plain"); tc = get("torch.compile/plain")
				ov = "n/a"
				if (ms[bestTool "/plain"] > 0 && ms[bestTool "/randomout"] > 0) ov = sprintf("%+.1f", 100 * (ms[bestTool "/randomout"] / ms[bestTool "/plain"] - 1))
				printf "%s: rout (packed) %s img/s, +CUDA graphs %s, on slices %s, graph API+CUDA graphs on slices %s, packed %s; best (%s) %s img/s, RandomOut %s%%; torch eager %s, compile %s",
					opt, get("rout, packed/plain"), get("rout, packed, CUDA graphs/plain"), get("rout/plain"), get("rout, cuDNN graph, CUDA graphs/plain"),
					get("rout, cuDNN graph, packed, CUDA graphs/plain"), (bestTool == "" ? "none" : bestTool), (best == "" ? "n/a" : best), ov, te, tc
				if (best != "" && te != "n/a") printf " [rout>=eager: %s]", (best + 0 >= te + 0 ? "yes" : "NO")
				if (ov != "n/a") printf " [overhead<=3%%: %s]", (ov + 0 <= 3 ? "yes" : "NO")
				printf "; "
			}' "${fs[@]}" >>"$d/speed.key"
	done
}

phase_real() {
	local d e=${GPU_RUN_EPOCHS:-3} seeds=${GPU_RUN_SEEDS:-1-2} rc frc t0=$SECONDS
	d=$GPU_RUN_LOGS/real
	mkdir -p "$d"
	[[ -f $archive ]] || { echo "no $archive" >"$GPU_RUN_LOGS/real.key"; return 1; }
	# First, one `rout train` with the fastest settings (--cudnn-graph --cuda-graph, on packed
	# tensors by default), which a sweep of several runs at once cannot use: RandomOut, seed 2
	# (it trained in the sweeps of 2026-11-27). Short: 3 epochs at about 17,000 img/s on an H200
	# are 9 s, after loading the archive.
	local fast=(--preset paper --device gpu --cudnn-graph --cuda-graph --randomout --seed 2 --epochs "$e")
	echo "== rout train ${fast[*]}"
	timeout --kill-after=5 $((30 + 10 * e)) "$gpu/bin/rout" train "${fast[@]}" --data "folder:$archive" --out "$d/train-fast" >"$d/train-fast.log" 2>&1
	frc=$?
	echo "== rout sweep --preset paper --device gpu --epochs $e --seeds $seeds (4 arms)"
	# The sweep stops itself before the phase's limit, so that its report of the runs finished
	# by then is still written.
	local left=$((${limit[real]} - (SECONDS - t0) - 25))
	timeout --kill-after=5 $((left > 20 ? left : 20)) "$gpu/bin/rout" sweep --preset paper --device gpu \
		--data "folder:$archive" --epochs "$e" --seeds "$seeds" --parallel 4 --out "$d/sweep" \
		--arms 'baseline,randomout,ro-bias:randomout=true,randomout-scope=weights+bias,he:init=he' >"$d/sweep.log" 2>&1
	rc=$?
	timeout 20 "$gpu/bin/rout" report "$d/sweep" >"$d/report.txt" 2>&1
	{
		echo "rout train ${fast[*]} --data folder:CIFAR-10-images-jpeg.tar.gz (exit $frc)"
		grep -E '^epoch |^status |^rout: ' "$d/train-fast.log"
		grep -A5 '"step_graphs"' "$d/train-fast/summary.json" 2>/dev/null
		echo
		echo "rout sweep --preset paper --device gpu --data folder:CIFAR-10-images-jpeg.tar.gz --epochs $e --seeds $seeds (exit $rc)"
		grep -E '^\[[0-9]+/[0-9]+\]|^error|^  [a-z-]+/[0-9]+ epoch' "$d/sweep.log"
		sed -n '/^Runs and failures/,/^Re-initialised/p' "$d/report.txt" | sed '$d'
	} >"$GPU_RUN_LOGS/real.report"
	{
		printf 'fast train (--cudnn-graph --cuda-graph, randomout seed 2): %s; ' \
			"$(grep -m1 -E '^status |^rout: ' "$d/train-fast.log" | cut -c1-100)"
		awk '/^Runs and failures/ { on = 1; next } on && /^ *$/ { exit }
			on && $1 != "arm" { printf "%s %s failed, ", $1, $3 "/" substr($2, 1, index($2, "/") - 1) }' "$d/report.txt"
	} >"$GPU_RUN_LOGS/real.key"
	((frc == 0)) || rc=1
	return $rc
}

case ${1:-} in
"") host ;;
--device)
	shift
	device "$@"
	;;
--phase) # internal: one phase, run by device mode under its time limit
	case ${2:-} in
	check | parity | speed | real | pack) "phase_$2" ;;
	*) die "unknown phase '${2:-}'" ;;
	esac
	;;
*) die "usage: scripts/gpu-run.sh [--device PHASE... [--epochs N] [--seeds RANGE]]" ;;
esac

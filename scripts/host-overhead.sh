#!/usr/bin/env bash
# host-overhead.sh: rout's own host time per training step on the GPU path, without a GPU.
# It runs `rout bench --device gpu` against the CPU stand-in of the CUDA libraries
# (cudnn/testdata/mockcuda.c) with its kernels and library calls doing nothing
# (ROUT_MOCK_ANY_KERNEL=1, ROUT_MOCK_NO_COMPUTE=1), so that the "host ms/step" column is what rout's
# Go code and cgo cost per step, call by call and with --cuda-graph (a dry run and a graph
# launch). The device columns mean nothing here. Usage: scripts/host-overhead.sh [bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}
"$cc" -shared -fPIC -o "$tmp/libmockcuda.so" cudnn/testdata/mockcuda.c -lm
for n in libcuda.so.1 libcudnn.so.9 libcublas.so.13 libnvrtc.so.13; do ln -s libmockcuda.so "$tmp/$n"; done
go build -o "$tmp/rout" ./cmd/rout
for mode in "" --cuda-graph; do
	LD_LIBRARY_PATH=$tmp ROUT_CUDA_LIBS= ROUT_MOCK_ANY_KERNEL=1 ROUT_MOCK_NO_COMPUTE=1 XDG_CACHE_HOME=$tmp/cache \
		"$tmp/rout" bench --device gpu $mode --model inception28 --batch 128 --optimizer sgd --steps 50 --warmup 3 --repeats 9 "$@" >"$tmp/out" ||
		{ cat "$tmp/out"; exit 1; }
	grep -E '^\| rout|^CUDA graphs:|^host time' "$tmp/out"
done

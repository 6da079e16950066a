#!/usr/bin/env bash
# declcheck.sh DIR: compiles DIR/declcheck.c (with DIR/rout_cuda.h) against NVIDIA's headers and
# checks that no symbol we dlsym is renamed by a header macro (e.g. cuFoo -> cuFoo_v2, which would
# mean we call an older ABI than the header describes). Headers: $CUDA_INC (default
# /usr/local/cuda-13.0/include) and $CUDNN_INC (default: the torch venv's nvidia/cudnn/include).
set -euo pipefail
dir=${1:?usage: declcheck.sh DIR}
cuda_inc=${CUDA_INC:-/usr/local/cuda-13.0/include}
cudnn_inc=${CUDNN_INC:-}
if [[ -z $cudnn_inc ]]; then
	for d in /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/include /usr/include/x86_64-linux-gnu /usr/include /usr/local/cuda/include; do
		if [[ -f $d/cudnn.h ]]; then cudnn_inc=$d; break; fi
	done
fi
[[ -f $cuda_inc/cuda.h ]] || { echo "declcheck: no cuda.h in $cuda_inc (set CUDA_INC)"; exit 1; }
[[ -n $cudnn_inc && -f $cudnn_inc/cudnn.h ]] || { echo "declcheck: no cudnn.h found (set CUDNN_INC)"; exit 1; }
cc=${CC:-gcc}
echo "declcheck: $cc, cuda.h from $cuda_inc, cudnn.h from $cudnn_inc"
flags=(-std=gnu11 -Wall -Werror -Wno-deprecated-declarations -Wno-unused-variable
	-isystem "$cuda_inc" -isystem "$cudnn_inc" -I "$dir")
bad=0
if ! "$cc" "${flags[@]}" -c -o "$dir/declcheck.o" "$dir/declcheck.c"; then
	echo "declcheck: FAILED: our declarations differ from the headers (errors above)"
	bad=1
fi
nfn=$(grep -cE '^[[:space:]]*X\([^,]*,[[:space:]]*[A-Za-z0-9_]+,[[:space:]]*\(' "$dir/rout_cuda.h")
nenum=$(grep -cE '^[[:space:]]*X\([A-Za-z0-9_]+, -?[0-9]+\)' "$dir/rout_cuda.h")
versions=$("$cc" "${flags[@]}" -dM -E "$dir/declcheck.c" | grep -E '^#define (CUDA_VERSION|CUDNN_MAJOR|CUDNN_MINOR|CUDNN_PATCHLEVEL|CUBLAS_VERSION) ' | awk '{printf "%s=%s ", $2, $3}')
[[ $bad == 1 ]] || echo "declcheck: $nfn prototypes and $nenum enum values match the headers ($versions)"
# Symbols we resolve by name must not be macros in the headers.
names=$(sed -n 's/^[[:space:]]*X([^,]*,[[:space:]]*\([A-Za-z0-9_]*\),.*/\1/p' "$dir/rout_cuda.h")
macros=$("$cc" "${flags[@]}" -dM -E "$dir/declcheck.c")
for n in $names; do
	# A macro whose body is the name itself (as cuda.h writes some, for its per-thread-stream
	# variants: #define cuX __CUDA_API_PTSZ(cuX)) does not rename it in this build.
	if grep -qE "^#define $n[ (]" <<<"$macros" && ! grep -qE "^#define $n ($n|__CUDA_API_PTSZ\($n\)|__CUDA_API_PTDS\($n\))$" <<<"$macros"; then
		echo "declcheck: the headers redefine $n: $(grep -E "^#define $n[ (]" <<<"$macros")"
		bad=1
	fi
done
[[ $bad == 0 ]] || exit 1
echo "declcheck: all $(wc -w <<<"$names") symbol names are the headers' own (none renamed by a macro)"

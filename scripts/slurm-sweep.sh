#!/usr/bin/env bash
# A rout seed sweep as a Slurm job array: every array task is one shard of the sweep, and all
# of them write one sweep folder on a filesystem the nodes share. rout takes its shard from
# SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, so keep the --array
# range unstepped (0-7, not 0-14:2); any number of tasks works.
#
#   sbatch scripts/slurm-sweep.sh                                  # the settings below
#   ROUT_OUT=/shared/sweeps/p6 ROUT_SEEDS=1-64 sbatch --array=0-15 scripts/slurm-sweep.sh --epochs 6
#
# Arguments after the script are `rout sweep` flags (any `rout train` flag too). Before the
# time limit (or on preemption) Slurm sends SIGTERM: the runs checkpoint and rout exits 130;
# the task is requeued, and the same command resumes (finished runs are kept). A task that dies
# harder leaves claims that another task takes over after --claim-timeout.
#SBATCH --job-name=rout-sweep
#SBATCH --array=0-7
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --output=rout-sweep-%A_%a.out
set -euo pipefail

ROUT=${ROUT:-rout}                       # the rout binary (go build -o rout ./cmd/rout)
OUT=${ROUT_OUT:-$HOME/rout-sweeps/paper} # shared by every task
PRESET=${ROUT_PRESET:-paper}
SEEDS=${ROUT_SEEDS:-1-32}
ARMS=${ROUT_ARMS:-baseline,randomout}
PARALLEL=${ROUT_PARALLEL:-1}             # runs at once per task (they share the task's GPU)

echo "rout sweep: task ${SLURM_ARRAY_TASK_ID:-none} of array ${SLURM_ARRAY_JOB_ID:-none} on $(hostname), folder $OUT"
# exec: rout itself receives Slurm's SIGTERM.
exec "$ROUT" sweep --preset "$PRESET" --seeds "$SEEDS" --arms "$ARMS" --out "$OUT" \
	--parallel "$PARALLEL" "$@"

package sweep

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"rout/runlog"
	"rout/trainer"
)

// Job is one run a Runner hands to its RunFunc.
type Job struct {
	Pair
	Dir    string         // the run folder, DIR/runs/ARM/SEED
	Config trainer.Config // the run's full config (plan, worker settings, seed)
	Resume bool           // the folder holds the checkpoint of an interrupted run: continue it
	// Guard, called before every write to Dir, fails once this worker's claim on the run is
	// lost: the run must then stop without writing (trainer.WithGuard).
	Guard func() error
}

// RunFunc carries out one run into j.Dir as `rout train` would, writing summary.json when the
// run completes and returning its summary. When ctx is cancelled it stops, leaving a
// checkpoint, and returns an error wrapping trainer.ErrInterrupted. TrainFunc is the real one;
// tests inject fakes.
type RunFunc func(ctx context.Context, j Job) (trainer.Summary, error)

// EventKind says what happened to a pair.
type EventKind int

const (
	Started     EventKind = iota // claimed and starting (Resume: from a checkpoint; Previous: taken over)
	Finished                     // completed with a summary (ok, failed or diverged)
	Skipped                      // already finished before this worker came to it
	Held                         // another live worker holds it (Holder)
	Interrupted                  // stopped by the context, checkpointed, claim released
	Failed                       // an error (Err): bad data, I/O, device, a lost claim
)

// Event is a progress report from a Runner. Events come one at a time.
type Event struct {
	Kind     EventKind
	Pair     Pair
	Adopted  bool       // the pair is another shard's, taken over from a dead worker
	Resume   bool       // Started: from a checkpoint
	Previous *ClaimInfo // Started: the dead worker whose claim was taken over
	Holder   *ClaimInfo // Held: who holds it
	Summary  trainer.Summary
	Err      error
}

// Runner runs a plan's pairs, or one shard's share of them, in a sweep folder.
type Runner struct {
	Dir      string
	Plan     Plan
	Worker   map[string]string // worker settings applied to every run before the arm's overrides (WorkerKeys)
	Shard    Shard
	Parallel int // runs at once (at least 1)
	Claimer  *Claimer
	Run      RunFunc
	// Adopt lets the worker, after its own share, take over the runs of other shards whose
	// claims are stale (their worker died). Unclaimed runs of other shards are left to their
	// own worker, which may simply not have started yet.
	Adopt   bool
	OnEvent func(Event)
	// Pack, above 1, trains up to that many of the worker's pairs at once as one pack
	// (RunPack), each pack counting as one of Parallel; pairs that cannot share a pack run alone.
	Pack    int
	RunPack PackFunc
}

// Result counts what a Runner did.
type Result struct {
	Mine        int // pairs in this worker's share
	Ran         int // runs completed by this worker (OK + Failed + Diverged)
	OK          int
	Failed      int
	Diverged    int
	Skipped     int // finished before
	Held        int // left to other live workers
	Adopted     int // runs of other shards taken over and completed
	Interrupted int
	Errors      []RunError
}

// RunError is the error a single run stopped with.
type RunError struct {
	Pair Pair
	Err  error
}

func (e RunError) Error() string { return e.Pair.String() + ": " + e.Err.Error() }
func (e RunError) Unwrap() error { return e.Err }

// Execute runs the worker's share: for each pair, in seed order (so that the arms of a seed
// finish close together and a partial sweep is paired), it skips a finished run, claims the
// run, resumes it from its checkpoint or starts it afresh, and releases the claim. Errors of
// single runs are collected in Result.Errors and do not stop the others; the returned error
// is for a broken setup. When ctx is cancelled, running runs checkpoint and no more start.
func (r *Runner) Execute(ctx context.Context) (Result, error) {
	if r.Parallel < 1 || r.Claimer == nil || r.Run == nil || r.Shard.Count < 1 {
		return Result{}, fmt.Errorf("sweep: runner needs Parallel >= 1, a Claimer, a RunFunc and a shard")
	}
	var (
		mu  sync.Mutex
		res Result
	)
	emit := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case Finished:
			res.Ran++
			if e.Adopted {
				res.Adopted++
			}
			switch e.Summary.Status {
			case trainer.StatusOK:
				res.OK++
			case trainer.StatusDiverged:
				res.Diverged++
			default:
				res.Failed++
			}
		case Skipped:
			res.Skipped++
		case Held:
			res.Held++
		case Interrupted:
			res.Interrupted++
		case Failed:
			res.Errors = append(res.Errors, RunError{e.Pair, e.Err})
		}
		if r.OnEvent != nil {
			r.OnEvent(e)
		}
	}

	seedPos := map[uint64]int{}
	for i, s := range r.Plan.Seeds {
		seedPos[s] = i
	}
	all := r.Plan.Pairs()
	var mine []Pair
	for _, p := range all {
		if r.Shard.Has(p.Index) {
			mine = append(mine, p)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return seedPos[mine[i].Seed] < seedPos[mine[j].Seed] })
	res.Mine = len(mine)

	var heldMu sync.Mutex
	held := map[int]bool{}
	markHeld := func(p Pair, k EventKind) {
		if k == Held {
			heldMu.Lock()
			held[p.Index] = true
			heldMu.Unlock()
		}
	}
	if r.Pack > 1 && r.RunPack != nil {
		r.packs(ctx, mine, emit, markHeld)
	} else {
		r.pool(ctx, mine, func(p Pair) { markHeld(p, r.do(ctx, p, false, emit)) })
	}

	// Then the runs whose worker died: this shard's runs that were held by another worker
	// now dead, and with Adopt, other shards' runs with stale claims. Each is tried once.
	tried := map[int]bool{}
	for ctx.Err() == nil {
		var stale []Pair
		for _, p := range all {
			if tried[p.Index] || !(held[p.Index] || r.Adopt && !r.Shard.Has(p.Index)) {
				continue
			}
			dir := p.Dir(r.Dir)
			if done, _ := finished(dir); done {
				continue
			}
			if s, _ := r.Claimer.Stale(dir); s {
				stale = append(stale, p)
				tried[p.Index] = true
			}
		}
		if len(stale) == 0 {
			break
		}
		r.pool(ctx, stale, func(p Pair) {
			r.do(ctx, p, !r.Shard.Has(p.Index), func(e Event) {
				// A pair counted as held before counts by its new outcome (held again
				// included), if it has one: do reports none when the context is cancelled
				// before it starts.
				if held[p.Index] && e.Kind != Started {
					mu.Lock()
					res.Held--
					mu.Unlock()
				}
				emit(e)
			})
		})
	}
	return res, nil
}

// pool runs f on the pairs with r.Parallel goroutines, starting none after ctx is cancelled.
func (r *Runner) pool(ctx context.Context, pairs []Pair, f func(Pair)) {
	inParallel(ctx, r.Parallel, pairs, f)
}

// inParallel runs f on the items with n goroutines, starting none after ctx is cancelled.
func inParallel[T any](ctx context.Context, n int, items []T, f func(T)) {
	next := make(chan T)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				f(it)
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- it:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// do carries out one pair and reports it; it returns the kind of the last event.
func (r *Runner) do(ctx context.Context, p Pair, adopted bool, emit func(Event)) EventKind {
	dir := p.Dir(r.Dir)
	report := func(e Event) EventKind {
		e.Pair, e.Adopted = p, adopted
		emit(e)
		return e.Kind
	}
	if done, err := finished(dir); err != nil {
		return report(Event{Kind: Failed, Err: err})
	} else if done {
		return report(Event{Kind: Skipped})
	}
	if ctx.Err() != nil {
		return Interrupted // not started: nothing to report
	}
	cl, holder, err := r.Claimer.Acquire(dir)
	if err != nil {
		return report(Event{Kind: Failed, Err: err})
	}
	if cl == nil {
		return report(Event{Kind: Held, Holder: holder})
	}
	ev := r.runClaimed(ctx, p, dir, cl, func(e Event) { report(e) })
	if err := cl.Release(); err != nil && ev.Kind == Interrupted {
		ev.Kind, ev.Err = Failed, err // a finished run stays finished; a failed one keeps its error
	}
	return report(ev)
}

// runClaimed runs a pair whose claim this worker holds.
func (r *Runner) runClaimed(ctx context.Context, p Pair, dir string, cl *Claim, report func(Event)) Event {
	// The run may have finished between the check and the claim.
	if done, err := finished(dir); err != nil {
		return Event{Kind: Failed, Err: err}
	} else if done {
		return Event{Kind: Skipped}
	}
	cfg, err := RunConfig(&r.Plan, p.Arm, p.Seed, r.Worker)
	if err != nil {
		return Event{Kind: Failed, Err: err}
	}
	resume := trainer.HasCheckpoint(dir)
	if _, err := trainer.ClearLeftovers(dir); err != nil {
		return Event{Kind: Failed, Err: err}
	}
	runCtx, cancel := cl.Watch(ctx)
	defer cancel()
	report(Event{Kind: Started, Resume: resume, Previous: cl.Previous})
	sum, err := r.Run(runCtx, Job{Pair: p, Dir: dir, Config: cfg, Resume: resume, Guard: cl.Check})
	return outcome(ctx, runCtx, cl, sum, err)
}

// outcome is the event of a claimed run that ended with sum and err; runCtx is the context it
// ran under.
func outcome(ctx, runCtx context.Context, cl *Claim, sum trainer.Summary, err error) Event {
	switch {
	case err == nil:
		return Event{Kind: Finished, Summary: sum}
	case errors.Is(err, ErrClaimLost) || errors.Is(context.Cause(runCtx), ErrClaimLost):
		// Another worker has the run (or finished it): it is left to that worker, as a run
		// found held would be.
		if now, _, rerr := readClaim(cl.Path); rerr == nil {
			return Event{Kind: Held, Holder: &now}
		}
		return Event{Kind: Held}
	case ctx.Err() != nil && errors.Is(err, trainer.ErrInterrupted):
		return Event{Kind: Interrupted, Err: err}
	default:
		return Event{Kind: Failed, Err: err}
	}
}

// finished reports whether a run folder holds a readable summary.json. A summary that exists
// but does not read is an error: the run is neither redone (that would lose it) nor counted.
func finished(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, trainer.SummaryFile)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if _, err := runlog.ReadSummary(dir); err != nil {
		return false, fmt.Errorf("%w (the run is left as it is: remove the file to train the run again)", err)
	}
	return true, nil
}

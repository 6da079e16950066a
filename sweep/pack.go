package sweep

import (
	"context"

	"rout/trainer"
)

// PackFunc carries out jobs as one pack (trainer.RunPack): each job's folder gets the record
// a RunFunc would write, and each job's outcome comes back in the jobs' order. TrainPackFunc
// is the real one.
type PackFunc func(ctx context.Context, jobs []Job) []trainer.PackResult

// TrainPackFunc is the PackFunc that trains with trainer.RunPack, each pack on its own backend.
// observe and opts are as TrainFunc's.
func TrainPackFunc(observe func(Job) trainer.Observer, opts ...trainer.Option) PackFunc {
	load := datasetLoader()
	return func(ctx context.Context, jobs []Job) []trainer.PackResult {
		res := make([]trainer.PackResult, len(jobs))
		d, err := load(jobs[0].Config.Data)
		if err != nil {
			for i := range res {
				res[i].Err = err
			}
			return res
		}
		ms := make([]trainer.PackMember, len(jobs))
		for i, j := range jobs {
			ms[i] = trainer.PackMember{Config: j.Config, Out: j.Dir, Opts: jobOptions(j, observe)}
		}
		return trainer.RunPack(ctx, ms, append([]trainer.Option{trainer.WithDataset(d)}, opts...)...)
	}
}

// packJob is a claimed pair waiting for its pack.
type packJob struct {
	Job
	cl   *Claim
	step int // its checkpoint's step (0: fresh)
}

// packs runs the pairs in groups of r.Pack, r.Parallel groups at once. Each group claims its
// pairs as do would, then trains those that can share a pack (same checkpoint step, settings
// PackConflict allows) as one; a pair left alone runs through r.Run.
func (r *Runner) packs(ctx context.Context, pairs []Pair, emit func(Event), done func(Pair, EventKind)) {
	var groups [][]Pair
	for i := 0; i < len(pairs); i += r.Pack {
		groups = append(groups, pairs[i:min(i+r.Pack, len(pairs))])
	}
	inParallel(ctx, r.Parallel, groups, func(g []Pair) { r.packGroup(ctx, g, emit, done) })
}

func (r *Runner) packGroup(ctx context.Context, group []Pair, emit func(Event), done func(Pair, EventKind)) {
	report := func(p Pair, e Event) {
		e.Pair = p
		emit(e)
		done(p, e.Kind)
	}
	var claimed []packJob
	for _, p := range group {
		dir := p.Dir(r.Dir)
		if fin, err := finished(dir); err != nil {
			report(p, Event{Kind: Failed, Err: err})
			continue
		} else if fin {
			report(p, Event{Kind: Skipped})
			continue
		}
		if ctx.Err() != nil {
			break
		}
		cl, holder, err := r.Claimer.Acquire(dir)
		if err != nil {
			report(p, Event{Kind: Failed, Err: err})
			continue
		}
		if cl == nil {
			report(p, Event{Kind: Held, Holder: holder})
			continue
		}
		j, ev := r.prepare(p, dir, cl)
		if ev != nil {
			cl.Release()
			report(p, *ev)
			continue
		}
		// Beat from now: the pair may wait for another pack of the group to finish first.
		j.cl.StartHeartbeat(func() {}) // a lost claim stops its run at its next write (Guard)
		claimed = append(claimed, j)
	}
	for _, pk := range partition(claimed) {
		jobs := make([]Job, len(pk))
		for i, j := range pk {
			jobs[i] = j.Job
			report(j.Pair, Event{Kind: Started, Resume: j.Resume, Previous: j.cl.Previous})
		}
		var res []trainer.PackResult
		if len(jobs) == 1 {
			sum, err := r.Run(ctx, jobs[0])
			res = []trainer.PackResult{{Summary: sum, Err: err}}
		} else {
			res = r.RunPack(ctx, jobs)
		}
		for i, j := range pk {
			ev := outcome(ctx, ctx, j.cl, res[i].Summary, res[i].Err)
			if err := j.cl.Release(); err != nil && ev.Kind == Interrupted {
				ev.Kind, ev.Err = Failed, err
			}
			report(j.Pair, ev)
		}
	}
}

// partition splits claimed jobs into packs: runs at the same checkpoint step whose settings may
// share one (trainer.PackConflict), each pack in the jobs' order.
func partition(jobs []packJob) [][]packJob {
	var packs [][]packJob
	for _, j := range jobs {
		placed := false
		for i, pk := range packs {
			if pk[0].step == j.step && trainer.PackConflict(&pk[0].Config, &j.Config) == "" {
				packs[i] = append(pk, j)
				placed = true
				break
			}
		}
		if !placed {
			packs = append(packs, []packJob{j})
		}
	}
	return packs
}

// prepare readies a claimed pair's job, as runClaimed does; it returns the event that ends the
// pair instead when there is nothing to run.
func (r *Runner) prepare(p Pair, dir string, cl *Claim) (packJob, *Event) {
	if fin, err := finished(dir); err != nil {
		return packJob{}, &Event{Kind: Failed, Err: err}
	} else if fin {
		return packJob{}, &Event{Kind: Skipped}
	}
	cfg, err := RunConfig(&r.Plan, p.Arm, p.Seed, r.Worker)
	if err != nil {
		return packJob{}, &Event{Kind: Failed, Err: err}
	}
	resume := trainer.HasCheckpoint(dir)
	if _, err := trainer.ClearLeftovers(dir); err != nil {
		return packJob{}, &Event{Kind: Failed, Err: err}
	}
	step, err := trainer.CheckpointStep(dir)
	if err != nil {
		return packJob{}, &Event{Kind: Failed, Err: err}
	}
	return packJob{Job: Job{Pair: p, Dir: dir, Config: cfg, Resume: resume, Guard: cl.Check}, cl: cl, step: step}, nil
}

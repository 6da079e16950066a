package trainer

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"rout/data"
	"rout/net"
)

// A pack trains several runs as one network (net.Pack) on one backend. Its members see the same
// batches, so they must agree on everything that fixes the network's shapes and the data; they
// may differ in what a sweep's arms and seeds set (packKeys). Each member keeps its own record:
// it is set up, evaluated, checkpointed and finished by the same code as a run alone, on a
// network of its own that holds its weights between steps; the pack's network holds them while
// it trains, and the two are synchronised (Scatter, Gather) when a member starts and before it
// evaluates or checkpoints. On the CPU a member's record is bit for bit the one it writes
// alone.

// packKeys are the settings in which the members of a pack may differ.
var packKeys = map[string]bool{
	"arm": true, "init": true, "seed": true, "fail-margin": true,
	"lr": true, "beta1": true, "beta2": true, "eps": true, "adam-mxnet-eps": true, "momentum": true,
	"nesterov": true, "weight-decay": true, "schedule": true, "lr-step-epochs": true, "lr-gamma": true, "lr-min": true,
	"randomout": true, "tau": true, "tau-mode": true, "revive-every": true, "randomout-norm": true,
	"randomout-scope": true, "randomout-layers": true, "revive-init": true,
}

// PackConflict names the settings that keep two runs out of one pack ("" when they can share
// one): those fixing the network, the data and its order, the optimiser's kind, the loss, and
// the run's length and device.
func PackConflict(a, b *Config) string {
	var bad []string
	for _, k := range a.Diff(b) {
		if !packKeys[k] {
			bad = append(bad, k)
		}
	}
	if !packRule(a) || !packRule(b) {
		bad = append(bad, "revive (ReDo and continual backprop train alone)")
	}
	return strings.Join(bad, ", ")
}

// packRule reports whether c's revival rule can run in a pack: RandomOut (or none), which a
// member runs on its stretch of the pack's parameters; ReDo and continual backprop read a
// network's activations and consumers, which a pack's members do not have apart.
func packRule(c *Config) bool {
	return c.Rule() == RuleNone || c.Rule() == RuleRandomOut
}

// PackMember is one run of a pack: its config, its output folder and its own options (Resume,
// an observer, a guard; a backend or dataset given here is ignored, RunPack's own are shared).
type PackMember struct {
	Config Config
	Out    string
	Opts   []Option
}

// PackResult is one member's outcome, as Run would return it.
type PackResult struct {
	Summary Summary
	Err     error
}

// PackProvenance is what config.json records of the pack a run trained in.
type PackProvenance struct {
	Members []string `json:"members"` // the members' output folders, in pack order
	Index   int      `json:"index"`   // this run's place among them
}

// packMember is a member being trained.
type packMember struct {
	r    *run
	opts []Optimizer // one per segment of the pack's parameters, over the member's stretches
	done bool        // finished, diverged, failed or interrupted: no longer trained
	res  *PackResult // where its outcome goes
	slot int         // its place in the pack's network
}

// packState is a pack being trained.
type packState struct {
	b       net.Backend
	pk      *net.Pack
	moments []*net.Tensor // the optimiser's state, laid out like pk.Params
	members []*packMember
	lead    *run // a live member: the pack's position, data order and preprocessing
	// whole updates every member at once when they all share the optimiser's settings (so
	// every element gets the update its run alone gives it) and all still train; else each
	// member updates its own stretches.
	whole Optimizer
}

// optimizerKeys are the settings of the update rule; members equal in them get identical
// updates from one optimiser call over the whole pack.
var optimizerKeys = []string{"optimizer", "lr", "beta1", "beta2", "eps", "adam-mxnet-eps", "momentum", "nesterov",
	"weight-decay", "schedule", "lr-step-epochs", "lr-gamma", "lr-min"}

// RunPack trains members as one pack and returns each member's outcome, as Run would for each
// run alone: a member that diverges ends there as diverged while the others go on; a
// cancelled ctx checkpoints every member and returns ErrInterrupted for each. Members must share
// the settings PackConflict checks and stand at the same step (resumed from checkpoints of the
// same step, or fresh). opts apply to every member; WithBackend and WithDataset are shared.
func RunPack(ctx context.Context, members []PackMember, opts ...Option) []PackResult {
	res := make([]PackResult, len(members))
	fail := func(err error) []PackResult {
		for i := range res {
			res[i].Err = err
		}
		return res
	}
	if len(members) == 0 {
		return res
	}
	var shared runOptions
	for _, opt := range opts {
		opt(&shared)
	}
	for i := range members {
		if err := members[i].Config.Validate(); err != nil {
			res[i].Err = err
			continue
		}
		if !packRule(&members[i].Config) {
			return fail(fmt.Errorf("pack: run %s uses revival rule %s, which trains alone, not in a pack", members[i].Out, members[i].Config.Rule()))
		}
		if c := PackConflict(&members[0].Config, &members[i].Config); c != "" {
			return fail(fmt.Errorf("pack: runs %s and %s differ in %s: they cannot train as one pack", members[0].Out, members[i].Out, c))
		}
	}
	cfg0 := &members[0].Config
	if shared.dataset == nil {
		ds, err := data.Open(cfg0.Data)
		if err != nil {
			return fail(fmt.Errorf("setting data: %w", err))
		}
		shared.dataset = ds
	}
	if shared.backend == nil {
		b, err := OpenBackend(cfg0)
		if err != nil {
			return fail(err)
		}
		defer func() {
			if err := b.Close(); err != nil {
				for i := range res {
					if res[i].Err == nil {
						res[i].Err = fmt.Errorf("device %s: %w", b.Name(), err)
					}
				}
			}
		}()
		shared.backend = b
	}
	if dm, ok := shared.backend.(deviceMemory); ok {
		free, _, err := dm.DeviceMemory()
		if err != nil {
			return fail(fmt.Errorf("device %s: reading its free memory: %w", shared.backend.Name(), err))
		}
		shared.deviceFree = free
	}
	prov := PackProvenance{}
	for _, m := range members {
		prov.Members = append(prov.Members, m.Out)
	}
	ps := &packState{b: shared.backend}
	defer ps.close()
	for i, m := range members {
		if res[i].Err != nil {
			continue
		}
		o := runOptions{}
		for _, opt := range m.Opts {
			opt(&o)
		}
		o.backend, o.dataset = shared.backend, shared.dataset
		if o.version == "" {
			o.version = shared.version
		}
		if o.observer == nil {
			o.observer = shared.observer
		}
		if o.guard == nil {
			o.guard = shared.guard
		}
		o.resume = o.resume || shared.resume
		o.sharedBy = max(o.sharedBy, shared.sharedBy)
		o.deviceFree = shared.deviceFree
		p := prov
		p.Index = i
		o.pack = &p
		if len(ps.members) > 0 { // the same training split (PackConflict): one copy on the backend
			o.trainSet = ps.members[0].r.trainSet
		}
		r, err := newRun(m.Config, m.Out, o)
		if err != nil {
			res[i].Err = err
			continue
		}
		ps.members = append(ps.members, &packMember{r: r, res: &res[i]})
	}
	if len(ps.members) == 0 {
		return res
	}
	if err := ps.build(); err != nil {
		for _, m := range ps.members {
			m.res.Err = err
		}
		return res
	}
	ps.loop(ctx)
	return res
}

// build makes the pack's network and optimiser state, puts every member's weights and state in
// it, and gives each member its optimiser and reviver over its stretches of the pack.
func (ps *packState) build() error {
	lead := ps.members[0].r
	ps.lead = lead
	for _, m := range ps.members[1:] {
		if m.r.st.Step != lead.st.Step {
			return fmt.Errorf("pack: run %s stands at step %d and run %s at step %d: only runs at the same step train as one pack",
				lead.out, lead.st.Step, m.r.out, m.r.st.Step)
		}
	}
	in := [3]int{lead.train.C, lead.prep.cropH, lead.prep.cropW}
	pk, err := net.BuildPack(ps.b, lead.spec, lead.cfg.Batch, in, lead.classes, len(ps.members))
	if err != nil {
		return fmt.Errorf("model %s: %w", lead.cfg.Model, err)
	}
	ps.pk = pk
	for range lead.opt.Moments() {
		t, err := ps.b.Alloc(pk.Params.N, 1, 1, 1)
		if err != nil {
			return fmt.Errorf("optimizer %s: allocating the pack's state: %w", lead.cfg.Optimizer, err)
		}
		ps.moments = append(ps.moments, t)
	}
	for slot, m := range ps.members {
		r := m.r
		m.slot = slot
		pk.Scatter(pk.Params, r.n.Params, slot)
		for i, t := range r.opt.Moments() {
			pk.Scatter(ps.moments[i], t, slot)
		}
		params, _ := pk.MemberViews(pk.Params, nil, slot)
		grads, _ := pk.MemberViews(pk.Grads, nil, slot)
		moments := make([][]*net.Tensor, len(ps.moments))
		for i, t := range ps.moments {
			moments[i], _ = pk.MemberViews(t, nil, slot)
		}
		for s := range params {
			ms := make([]*net.Tensor, len(moments))
			for i := range moments {
				ms[i] = moments[i][s]
			}
			m.opts = append(m.opts, optimizerOn(ps.b, &r.cfg, params[s], grads[s], ms))
		}
		ft, err := r.n.ConvTable(r.cfg.layerList())
		if err != nil {
			return fmt.Errorf("setting randomout-layers: %w", err)
		}
		rev, err := NewRandomOut(ps.b, pk.MemberTable(ft, slot), pk.Params, pk.Grads, randomOutOptions(&r.cfg, ps.moments))
		if err != nil {
			return err
		}
		own := r.rev.State()
		for name, t := range rev.State() {
			ps.b.Copy(t, own[name])
		}
		r.rev = rev
	}
	same := true
	for _, m := range ps.members[1:] {
		for _, k := range lead.cfg.Diff(&m.r.cfg) {
			same = same && !slices.Contains(optimizerKeys, k)
		}
	}
	if same {
		ps.whole = optimizerOn(ps.b, &lead.cfg, pk.Params, pk.Grads, ps.moments)
	}
	if err := ps.b.Err(); err != nil {
		return fmt.Errorf("device %s: %w", ps.b.Name(), err)
	}
	return nil
}

// gather copies a member's weights and optimiser state from the pack into its own network, for
// its evaluation and checkpoint.
func (ps *packState) gather(m *packMember) {
	ps.pk.Gather(m.r.n.Params, ps.pk.Params, m.slot)
	for i, t := range m.r.opt.Moments() {
		ps.pk.Gather(t, ps.moments[i], m.slot)
	}
}

// live are the members still training.
func (ps *packState) live() []*packMember {
	var l []*packMember
	for _, m := range ps.members {
		if !m.done {
			l = append(l, m)
		}
	}
	return l
}

// end finishes a member as run.finish does: its summary when it completed or diverged (stop
// nil, or the divergence), else stop as its error.
func (ps *packState) end(m *packMember, stop error) {
	m.done = true
	m.res.Summary, m.res.Err = m.r.finish(stop)
}

// each runs f for every live member, ending those for which it reports a divergence or an
// error.
func (ps *packState) each(f func(m *packMember) error) {
	for _, m := range ps.live() {
		if err := f(m); err != nil {
			ps.end(m, err)
		}
	}
}

// loop is run.loop for the pack: every live member's steps, log lines, evaluations and
// checkpoints where it would have them alone.
func (ps *packState) loop(ctx context.Context) {
	lead := ps.lead
	cfg := &lead.cfg
	total := cfg.Epochs * lead.perEpoch
	end := lead.endStep()
	for _, m := range ps.live() {
		r := m.r
		if r.o.observer != nil {
			r.o.observer.Start(Plan{Config: r.cfg, Backend: ps.b.Name(), Params: r.n.ParamCount(),
				TrainExamples: r.train.N, StepsPerEpoch: r.perEpoch, TotalSteps: end, StartStep: r.st.Step})
		}
		r.segStart = time.Now()
		r.lastLogTime, r.lastLogStep = r.segStart, r.st.Step
	}
	lr := func(r *run, step int) float64 { return learningRate(&r.cfg, step, r.perEpoch, total) }
	ps.each(func(m *packMember) error {
		// Resumed at its end from a checkpoint taken mid-epoch, as in run.loop.
		r := m.r
		if r.st.Step != end || r.evaluatedAtStep() {
			return nil
		}
		r.epochStep0, r.epochTime0 = r.st.Step, time.Now()
		ps.gather(m)
		if err := r.endEpoch(lr(r, r.st.Step-1), false); err != nil {
			return err
		}
		r.lastCkpt = -1 // the checkpoint at this step lacks the evaluation: write it again
		return r.checkpoint()
	})
	orderEpoch := -1
	for {
		live := ps.live()
		if len(live) == 0 {
			return
		}
		st := live[0].r.st
		if st.Step >= end {
			break
		}
		if ctx.Err() != nil {
			for _, m := range live {
				ps.gather(m)
				if err := m.r.checkpoint(); err != nil {
					ps.end(m, err)
					continue
				}
				m.done = true
				m.res.Err = fmt.Errorf("%w at step %d of %d; the checkpoint in %s resumes it", ErrInterrupted, m.r.st.Step, end, m.r.out)
			}
			return
		}
		if orderEpoch != st.Epoch {
			ps.b.SetOrder(lead.trainSet, data.EpochOrder(lead.train.N, cfg.DataSeed, st.Epoch))
			lead.trainAug.Epoch = uint32(st.Epoch)
			orderEpoch = st.Epoch
			for _, m := range live {
				m.r.epochStep0, m.r.epochTime0 = st.Step, time.Now()
			}
		}
		ps.step(live, st, lr)
		for _, m := range live {
			m.r.st.Step++
			m.r.st.EpochStep++
			if m.r.o.observer != nil {
				m.r.o.observer.Step(m.r.st.Step)
			}
		}
		step := st.Step + 1
		if step%cfg.LogEvery == 0 {
			ps.each(func(m *packMember) error { return m.r.logLine(lr(m.r, st.Step)) })
		}
		epochEnd := st.EpochStep+1 == lead.perEpoch
		if epochEnd || step == end {
			ps.each(func(m *packMember) error {
				ps.gather(m)
				if err := m.r.endEpoch(lr(m.r, st.Step), epochEnd); err != nil {
					return err
				}
				return m.r.checkpoint()
			})
		} else if cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0 {
			ps.each(func(m *packMember) error {
				ps.gather(m)
				return m.r.checkpoint()
			})
		}
	}
	for _, m := range ps.live() {
		ps.end(m, nil)
	}
}

// step is one training step of every live member, all of it queued on the device: the shared
// batch, the pack's forward and backward passes, each member's loss, update and RandomOut.
func (ps *packState) step(live []*packMember, st runState, lr func(*run, int) float64) {
	lead, pk := ps.lead, ps.pk
	red := net.ReduceSum
	if lead.cfg.Loss == "mean" {
		red = net.ReduceMean
	}
	work := func() {
		ps.b.GatherBatch(lead.trainSet, st.EpochStep*lead.cfg.Batch, pk.Input, pk.Labels, lead.trainAug)
		pk.Forward(true)
		for _, m := range live {
			logits, dlogits := pk.MemberLogits(m.slot)
			ps.b.SoftmaxCrossEntropy(logits, pk.Labels, dlogits, m.r.stats, red)
		}
		pk.Backward()
		if ps.whole != nil && len(live) == len(ps.members) {
			ps.whole.Update(st.Step, lr(lead, st.Step))
		} else {
			for _, m := range live {
				rate := lr(m.r, st.Step)
				for _, o := range m.opts {
					o.Update(st.Step, rate)
				}
			}
		}
		for _, m := range live {
			m.r.rev.AfterUpdate(st.Step)
		}
	}
	net.RunStep(ps.b, work)
}

// close closes every member's files (the backend is RunPack's or the caller's).
func (ps *packState) close() {
	for _, m := range ps.members {
		if err := m.r.close(); err != nil && m.res.Err == nil {
			m.res.Err = err
		}
	}
}

// CheckpointStep is the step of the checkpoint in folder out (0 when there is none): runs
// resumed together in a pack must stand at the same step.
func CheckpointStep(out string) (int, error) {
	if !HasCheckpoint(out) {
		return 0, nil
	}
	ck, err := readCheckpoint(filepath.Join(out, CheckpointFile))
	if err != nil {
		return 0, err
	}
	return ck.state.Step, nil
}

package trainer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"rout/data"
	"rout/net"
	"rout/net/cpu"
)

// lockstepPack is lockstep for a pack: cfgs train as one pack on backend g and each alone on the
// CPU; after every step each member's loss, filter norms and re-draw decisions are compared with
// its run alone (as lockstep compares, decisions up to its edge cases), then every member's
// parameters and optimiser state are set to its CPU run's, so that differences never compound.
func lockstepPack(t *testing.T, cfgs []Config, ds *data.Dataset, g net.Backend, steps int) []lockstepResult {
	t.Helper()
	c := cpu.New(cpu.Options{})
	t.Cleanup(func() { c.Close() })
	ps := &packState{b: g}
	var alone []*side
	for _, cfg := range cfgs {
		alone = append(alone, openSide(t, withDevice(cfg, "cpu"), ds, c))
		gc := withDevice(cfg, g.Name())
		if err := gc.Validate(); err != nil {
			t.Fatal(err)
		}
		r, err := newRun(gc, t.TempDir(), runOptions{backend: g, dataset: ds})
		if err != nil {
			t.Fatalf("%s: %v", g.Name(), err)
		}
		ps.members = append(ps.members, &packMember{r: r, res: &PackResult{}})
	}
	t.Cleanup(ps.close)
	if err := ps.build(); err != nil {
		t.Fatal(err)
	}
	lead := ps.lead
	g.SetOrder(lead.trainSet, data.EpochOrder(lead.train.N, cfgs[0].DataSeed, 0))
	lead.trainAug.Epoch = 0
	// Every member initialises from its seed's draws, in the pack as alone: bit-identical.
	for i, m := range ps.members {
		ps.gather(m)
		if !slices.Equal(download32(g, m.r.n.Params), download32(c, alone[i].r.n.Params)) {
			t.Fatalf("member %d: its initial weights in the pack differ from its run's alone", i)
		}
	}
	if steps > lead.perEpoch {
		t.Fatalf("lockstep: %d steps, but the first epoch has %d", steps, lead.perEpoch)
	}
	total := cfgs[0].Epochs * lead.perEpoch
	lr := func(r *run, step int) float64 { return learningRate(&r.cfg, step, r.perEpoch, total) }
	res := make([]lockstepResult, len(cfgs))
	tabs := make([]strings.Builder, len(cfgs))
	for i := range tabs {
		fmt.Fprintf(&tabs[i], "%4s  %12s  %12s  %9s  %9s  %5s  %s\n", "step", "cpu loss", g.Name()+" loss", "rel diff", "re-drawn", "flips",
			"flipped filters (layer#filter: cpu norm / "+g.Name()+" norm)")
	}
	defer func() {
		for i := range tabs {
			t.Logf("lockstep comparison, member %d (%s, seed %d) of a pack of %d on %s against its run alone on cpu:\n%s",
				i, cfgs[i].Arm, cfgs[i].Seed, len(cfgs), g.Name(), tabs[i].String())
		}
	}()
	for i := 0; i < steps; i++ {
		ps.step(ps.members, lead.st, lr)
		for k, m := range ps.members {
			m.r.st.Step++
			m.r.st.EpochStep++
			cl, cn, cm := alone[k].step(t, lr(alone[k].r, i))
			l, _, n, err := m.r.readStats()
			if err != nil {
				t.Fatalf("member %d step %d: %v", k, i+1, err)
			}
			ro := m.r.rev.(*RandomOut)
			o := stepOut{loss: l / n, norms: download32(g, ro.norms), mask: download32(g, ro.mask)}
			res[k].compare(t, cfgs[k], alone[k].ro.ft.Groups, i, g.Name(), stepOut{cl, cn, cm}, o, &tabs[k])
			// The CPU run's state, into the member's own tensors, then into the pack.
			g.Upload(m.r.n.Params, download32(c, alone[k].r.n.Params))
			for j, mt := range m.r.opt.Moments() {
				g.Upload(mt, download32(c, alone[k].r.opt.Moments()[j]))
			}
			ps.pk.Scatter(ps.pk.Params, m.r.n.Params, m.slot)
			for j, mt := range m.r.opt.Moments() {
				ps.pk.Scatter(ps.moments[j], mt, m.slot)
			}
		}
		if err := g.Err(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	for k := range res {
		t.Logf("member %d: %d steps: largest relative loss difference %.3g (tolerance %g); largest norm difference %.3g of its layer's largest norm (tolerance %g); %d of %d re-draw decisions differ (edge cases)",
			k, steps, res[k].worstLoss, lockstepLossTol, res[k].worstNorm, lockstepNormTol, res[k].flips, res[k].decisions)
		if float64(res[k].flips) > lockstepMaxFlips*float64(res[k].decisions) {
			t.Errorf("member %d: %d of %d decisions flipped, more than %g of them", k, res[k].flips, res[k].decisions, lockstepMaxFlips)
		}
	}
	return res
}

func download32(b net.Backend, t *net.Tensor) []float32 {
	v := make([]float32, t.Len())
	b.Download(t, v)
	return v
}

// packLockstepConfigs are four members of one pack: RandomOut, RandomOut with the bias re-drawn
// too, He's initialiser, and another learning rate, on cfg's data and protocol.
func packLockstepConfigs(cfg Config) []Config {
	ro := cfg
	ro.Arm, ro.RandomOut, ro.Seed = "randomout", true, 1
	wb := ro
	wb.Arm, wb.Seed, wb.RandomOutScope = "randomout-wb", 2, "weights+bias"
	he := ro
	he.Arm, he.Seed, he.Init = "he", 3, "he"
	lr := ro
	lr.Arm, lr.Seed, lr.LR = "lr", 4, cfg.LR*3
	return []Config{ro, wb, he, lr}
}

// TestLockstepPackCPUAgainstItself runs the pack lockstep harness with a pack on a second CPU
// backend (another thread count): on the CPU a member computes bit for bit what it computes
// alone, so every loss, norm and decision must agree exactly, with filters re-drawn.
func TestLockstepPackCPUAgainstItself(t *testing.T) {
	cfg, _ := Preset("quick")
	cfg.Model = "convnet-small@0.25"
	cfg.Data = "shapes"
	cfg.Tau, cfg.TauMode = 0.5, "relative"
	cfg.RandomOutEvery = 2
	ds, err := data.Open(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	other := cpu.New(cpu.Options{Threads: 3})
	defer other.Close()
	for k, res := range lockstepPack(t, packLockstepConfigs(cfg), ds, other, 4) {
		if res.flips != 0 || res.worstLoss != 0 || res.worstNorm != 0 || res.marked == 0 {
			t.Errorf("member %d, two CPU backends: %+v; want no flip, identical losses and norms, and some filters marked", k, res)
		}
	}
}

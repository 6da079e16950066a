package trainer

import (
	"fmt"
	"path/filepath"

	"rout/data"
	"rout/net"
)

// newRun sets up everything a run needs: folder, data, device, network, optimiser, policy.
func newRun(cfg Config, out string, o runOptions) (_ *run, err error) {
	r := &run{cfg: cfg, out: out, o: o, lastCkpt: -1}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.prepareFolder(); err != nil {
		return nil, err
	}
	var ck *checkpoint
	if o.resume {
		if ck, err = readCheckpoint(filepath.Join(out, CheckpointFile)); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
		if err := checkResumable(&ck.config, &cfg); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
	}
	if err := r.loadData(); err != nil {
		return nil, err
	}
	if o.backend != nil {
		r.b = o.backend
	} else {
		if r.b, err = OpenBackend(&cfg); err != nil {
			return nil, err
		}
		r.ownsB = true
	}
	if err := r.build(); err != nil {
		return nil, err
	}
	r.st = runState{TestAcc: nan(), TestLoss: nan(), ValAcc: nan(), ValLoss: nan(), TrainLoss: nan(),
		BestTest: nan(), BestVal: nan(), EvalStep: -1}
	if ck != nil {
		if err := r.restore(ck); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
	} else {
		r.n.Init(cfg.Seed)
	}
	if err := r.b.Err(); err != nil {
		return nil, fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	if end := r.endStep(); r.st.Step > end { // before config.json records the setting
		return nil, fmt.Errorf("setting max-steps: %d is below the checkpoint's step %d", end, r.st.Step)
	}
	r.prov = newProvenance(r, ck)
	if err := r.guarded(); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, ConfigFile), configFile{Config: cfg, Provenance: r.prov}); err != nil {
		return nil, err
	}
	if r.metrics, err = openMetrics(filepath.Join(out, MetricsFile), ck != nil, r.st.Step, r.evaluatedAtStep()); err != nil {
		return nil, err
	}
	return r, nil
}

// loadData opens the dataset and carves the validation split.
func (r *run) loadData() error {
	ds := r.o.dataset
	if ds == nil {
		var err error
		if ds, err = data.Open(r.cfg.Data); err != nil {
			return fmt.Errorf("setting data: %w", err)
		}
	}
	r.ds = ds
	r.classes = len(ds.Classes)
	if r.classes < 2 {
		return fmt.Errorf("data %s: %d classes, want at least 2", r.cfg.Data, r.classes)
	}
	r.train = ds.Train
	if r.cfg.ValFraction > 0 {
		t, v, err := ds.CarveValidation(r.cfg.ValFraction, r.cfg.DataSeed)
		if err != nil {
			return fmt.Errorf("setting val-fraction: %w", err)
		}
		r.train, r.val = t, &v
	}
	r.perEpoch = r.train.N / r.cfg.Batch
	if r.perEpoch == 0 {
		return fmt.Errorf("setting batch: %d is more than the %d training examples of %s", r.cfg.Batch, r.train.N, r.cfg.Data)
	}
	if ds.Test.N == 0 {
		return fmt.Errorf("data %s: the test split is empty", r.cfg.Data)
	}
	return nil
}

// build makes the network, optimiser, policy, image sets and preprocessing on the backend. The
// network and its evaluation come from newEvaluator, as in Evaluate.
func (r *run) build() error {
	cfg := &r.cfg
	spec, err := buildSpec(cfg)
	if err != nil {
		return err
	}
	r.spec = spec
	if r.prep, err = newPreprocessing(cfg, &r.train); err != nil {
		return err
	}
	if err := r.checkMemory([3]int{r.train.C, r.prep.cropH, r.prep.cropW}); err != nil {
		return err
	}
	if r.eval, err = newEvaluator(r.b, spec, cfg, &r.prep, r.train.C, r.classes, "model "+cfg.Model); err != nil {
		return err
	}
	r.n = r.eval.n
	r.eval.progress = evalProgress(r.o.observer)
	if r.stats, err = r.b.Alloc(1, 3, 1, 1); err != nil {
		return fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	if r.testSet, err = newEvalSet(r.b, &r.ds.Test); err != nil {
		return err
	}
	if r.val != nil {
		if r.valSet, err = newEvalSet(r.b, r.val); err != nil {
			return err
		}
	}
	ft, err := r.n.ConvTable(cfg.layerList())
	if err != nil {
		return fmt.Errorf("setting randomout-layers: %w", err)
	}
	if r.opt, err = newOptimizer(r.b, cfg, r.n.Params, r.n.Grads); err != nil {
		return err
	}
	if r.rev, err = newReviver(cfg, r.b, r.n, ft, r.opt.Moments()); err != nil {
		return err
	}
	r.trainSet = r.o.trainSet // a pack's members share one copy
	if r.trainSet == nil {
		if r.trainSet, err = r.b.NewImageSet(r.train.Pixels, r.train.Labels, r.train.N, r.train.C, r.train.H, r.train.W); err != nil {
			return fmt.Errorf("device %s: training images: %w", r.b.Name(), err)
		}
	}
	r.trainAug = r.prep.augment(cfg, true)
	return nil
}

// buildSpec loads the model and applies the init override to every layer.
func buildSpec(cfg *Config) (*net.Spec, error) {
	spec, err := net.LoadSpec(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("setting model: %w", err)
	}
	if cfg.Init != "" {
		s := *spec
		s.Init = cfg.Init
		s.Layers = clearInit(spec.Layers)
		spec = &s
	}
	return spec, nil
}

// clearInit copies layers without their own initialisers, so the spec's applies to all.
func clearInit(ls []net.LayerSpec) []net.LayerSpec {
	out := make([]net.LayerSpec, len(ls))
	for i, l := range ls {
		l.Init = ""
		if l.Branches != nil {
			br := make([][]net.LayerSpec, len(l.Branches))
			for b := range l.Branches {
				br[b] = clearInit(l.Branches[b])
			}
			l.Branches = br
		}
		out[i] = l
	}
	return out
}

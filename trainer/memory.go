package trainer

import (
	"fmt"
	"runtime"

	"rout/data"
	"rout/internal/membudget"
	"rout/net"
)

// SharedBy says that n runs (this one included) share the device and the machine's memory at
// once, as `rout sweep --parallel n` runs them: the memory check counts this run n times.
func SharedBy(n int) Option { return func(o *runOptions) { o.sharedBy = max(n, 1) } }

// deviceMemory is implemented by backends that can say how much device memory is free (the GPU).
type deviceMemory interface {
	DeviceMemory() (free, total int64, err error)
}

// checkMemory estimates what building and training spec takes (net.EstimateMemory) before
// anything is allocated, for every run sharing the device, and refuses a network that cannot
// fit: against the device's free memory on a GPU (with the images, which go to the device too),
// against the memory budget on the CPU. moments is the optimiser's tensors the size of the
// parameters (0 to evaluate), threads the CPU workers (0: every core), free the device's free
// memory when it was read before (0: read it now).
func checkMemory(b net.Backend, spec *net.Spec, batch int, in [3]int, classes, moments, threads, shared int, images, free int64) error {
	workers := threads
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m, err := net.EstimateMemory(spec, batch, in, classes, moments, workers)
	if err != nil {
		return err
	}
	shared = max(shared, 1)
	runs := ""
	if shared > 1 {
		runs = fmt.Sprintf(" for each of the %d runs sharing it", shared)
	}
	if dm, ok := b.(deviceMemory); ok {
		if free <= 0 {
			if free, _, err = dm.DeviceMemory(); err != nil {
				return fmt.Errorf("device %s: reading its free memory: %w", b.Name(), err)
			}
		}
		need := m.Total() + images
		if int64(shared)*need > free || need < 0 {
			return fmt.Errorf("model %s with batch %d needs about %s of device memory%s (parameters, gradients, optimiser %s, activations %s, workspace %s, images %s), more than the %s free on %s: use a smaller batch, width or --parallel",
				spec.Name, batch, membudget.Format(need), runs, membudget.Format(m.Optimizer), membudget.Format(m.Activations), membudget.Format(m.Workspace), membudget.Format(images), membudget.Format(free), b.Name())
		}
		return nil
	}
	budget, err := membudget.Current()
	if err != nil {
		return err
	}
	if int64(shared)*m.Total() > budget.Bytes || m.Total() < 0 {
		return fmt.Errorf("model %s with batch %d needs about %s of memory%s (parameters %s, gradients, optimiser %s, activations %s, workspace %s), more than the memory budget of %s: use a smaller batch, width or --parallel, or raise the budget with --memory-budget or $%s if the machine has the memory",
			spec.Name, batch, membudget.Format(m.Total()), runs, membudget.Format(m.Params), membudget.Format(m.Optimizer), membudget.Format(m.Activations), membudget.Format(m.Workspace), budget, membudget.EnvVar)
	}
	return nil
}

// moments is the number of parameter-sized tensors the configured optimiser keeps.
func (c *Config) moments() int {
	if c.Optimizer == "sgd" {
		return 1
	}
	return 2
}

// checkMemory checks the run's network (checkMemory above) before setup allocates it.
func (r *run) checkMemory(in [3]int) error {
	images := int64(len(r.train.Pixels) + len(r.ds.Test.Pixels))
	if r.val != nil {
		images += int64(len(r.val.Pixels))
	}
	if err := checkMemory(r.b, r.spec, r.cfg.Batch, in, r.classes, r.cfg.moments(), r.cfg.Threads, r.o.sharedBy, images, r.o.deviceFree); err != nil {
		return fmt.Errorf("setting model: %w", err)
	}
	return nil
}

// PackShare is how many runs' networks the memory check counts for parallel packs of k runs on
// one device at once. A run alone counts once. A member of a pack of two or
// more counts twice: it keeps its own network, on which it is evaluated and checkpointed,
// beside its share of the pack's network, which is no larger than its own (the members share
// the input batch and the convolution scratch).
func PackShare(parallel, k int) int {
	n := max(parallel, 1) * max(k, 1)
	if k > 1 {
		n *= 2
	}
	return n
}

// PackFit is the pack LargestPack chose and the numbers it chose it by.
type PackFit struct {
	K     int
	Run   int64  // one run's estimate (net.EstimateMemory, with its images on a device)
	Need  int64  // what parallel packs of K take: PackShare(parallel, K) runs
	Avail int64  // the memory they must fit in
	Of    string // Avail in words: "the memory budget of 4.0 GiB (--memory-budget)", "the 70.2 GiB free on DEVICE"
}

// LargestPack is the largest pack, of at most most runs, such that parallel packs of it fit
// the memory, by the estimate the runs' own memory checks make (checkMemory, PackShare): the
// device's free memory on a GPU, the memory budget on the CPU. cfgs are the runs' configs
// (one per arm, say); the largest run sets the size, and the first opens the backend. It is
// an error when not even parallel runs alone fit. WithDataset gives every run's data.
func LargestPack(cfgs []Config, parallel, most int, opts ...Option) (PackFit, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(cfgs) == 0 {
		return PackFit{}, fmt.Errorf("largest pack: no runs")
	}
	b, err := OpenBackend(&cfgs[0])
	if err != nil {
		return PackFit{}, err
	}
	defer b.Close()
	var fit PackFit
	var worst net.Memory
	var spec *net.Spec
	var batch int
	sets := map[string]*data.Dataset{}
	for i := range cfgs {
		ds := o.dataset
		if ds == nil {
			ds = sets[cfgs[i].Data]
		}
		r := &run{cfg: cfgs[i], o: runOptions{dataset: ds}}
		if err := r.loadData(); err != nil {
			return PackFit{}, err
		}
		sets[r.cfg.Data] = r.ds
		if r.spec, err = buildSpec(&r.cfg); err != nil {
			return PackFit{}, err
		}
		if r.prep, err = newPreprocessing(&r.cfg, &r.train); err != nil {
			return PackFit{}, err
		}
		workers := r.cfg.Threads
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		in := [3]int{r.train.C, r.prep.cropH, r.prep.cropW}
		m, err := net.EstimateMemory(r.spec, r.cfg.Batch, in, r.classes, r.cfg.moments(), workers)
		if err != nil {
			return PackFit{}, err
		}
		need := m.Total()
		if _, ok := b.(deviceMemory); ok {
			need += int64(len(r.train.Pixels) + len(r.ds.Test.Pixels))
			if r.val != nil {
				need += int64(len(r.val.Pixels))
			}
		}
		if fit.Run >= 0 && (need > fit.Run || need < 0) {
			fit.Run, worst, spec, batch = need, m, r.spec, r.cfg.Batch
		}
	}
	what, advice := "memory", fmt.Sprintf("or raise the budget with --memory-budget or $%s if the machine has the memory", membudget.EnvVar)
	if dm, ok := b.(deviceMemory); ok {
		free, _, err := dm.DeviceMemory()
		if err != nil {
			return PackFit{}, fmt.Errorf("device %s: reading its free memory: %w", b.Name(), err)
		}
		fit.Avail, fit.Of = free, fmt.Sprintf("the %s free on %s", membudget.Format(free), b.Name())
		what, advice = "device memory", "or free the device"
	} else {
		budget, err := membudget.Current()
		if err != nil {
			return PackFit{}, err
		}
		fit.Avail, fit.Of = budget.Bytes, "the memory budget of "+budget.String()
	}
	for k := max(most, 1); k >= 1; k-- {
		n := int64(PackShare(parallel, k))
		if fit.Run >= 0 && fit.Run <= fit.Avail/n {
			fit.K, fit.Need = k, n*fit.Run
			return fit, nil
		}
	}
	return PackFit{}, fmt.Errorf("--pack 0: model %s with batch %d needs about %s of %s for each run (parameters %s, optimiser %s, activations %s, workspace %s), and --parallel %d runs alone take %s, more than %s: not even a pack of one run fits; use a smaller batch, width or --parallel, %s",
		spec.Name, batch, membudget.Format(fit.Run), what, membudget.Format(worst.Params), membudget.Format(worst.Optimizer), membudget.Format(worst.Activations), membudget.Format(worst.Workspace),
		max(parallel, 1), membudget.Format(int64(PackShare(parallel, 1))*fit.Run), fit.Of, advice)
}

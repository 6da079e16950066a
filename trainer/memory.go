package trainer

import (
	"fmt"
	"runtime"

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
// parameters (0 to evaluate), threads the CPU workers (0: every core).
func checkMemory(b net.Backend, spec *net.Spec, batch int, in [3]int, classes, moments, threads, shared int, images int64) error {
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
		free, _, err := dm.DeviceMemory()
		if err != nil {
			return fmt.Errorf("device %s: reading its free memory: %w", b.Name(), err)
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
	if err := checkMemory(r.b, r.spec, r.cfg.Batch, in, r.classes, r.cfg.moments(), r.cfg.Threads, r.o.sharedBy, images); err != nil {
		return fmt.Errorf("setting model: %w", err)
	}
	return nil
}

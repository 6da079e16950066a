package sweep

import (
	"context"
	"fmt"
	"sync"

	"rout/data"
	"rout/trainer"
)

// TrainFunc is the RunFunc that trains with trainer.Run, each run on its own backend (on a GPU,
// the runs running at once share the device). Each dataset is loaded once and shared by the
// runs that use it (trainer.Run does not modify it); a dataset that fails to load fails every
// run of this worker that uses it with the same error, without being read again. opts are added
// to every run's options (trainer.WithVersion, say); observe, when not nil, gives each run its
// own observer.
func TrainFunc(observe func(Job) trainer.Observer, opts ...trainer.Option) RunFunc {
	load := datasetLoader()
	return func(ctx context.Context, j Job) (trainer.Summary, error) {
		d, err := load(j.Config.Data)
		if err != nil {
			return trainer.Summary{}, err
		}
		o := append([]trainer.Option{trainer.WithDataset(d)}, opts...)
		return trainer.Run(ctx, j.Config, j.Dir, append(o, jobOptions(j, observe)...)...)
	}
}

// jobOptions are a job's own run options: resume, its claim's guard, its observer.
func jobOptions(j Job, observe func(Job) trainer.Observer) []trainer.Option {
	var o []trainer.Option
	if j.Resume {
		o = append(o, trainer.Resume())
	}
	if j.Guard != nil {
		o = append(o, trainer.WithGuard(j.Guard))
	}
	if observe != nil {
		o = append(o, trainer.WithObserver(observe(j)))
	}
	return o
}

// datasetLoader loads each dataset once, keeping its error too, for the runs of a worker.
func datasetLoader() func(spec string) (*data.Dataset, error) {
	type loaded struct {
		d   *data.Dataset
		err error
	}
	var (
		mu    sync.Mutex
		cache = map[string]loaded{}
	)
	return func(spec string) (*data.Dataset, error) {
		mu.Lock() // held while loading: the runs waiting for a dataset would only load it again
		defer mu.Unlock()
		l, ok := cache[spec]
		if !ok {
			l.d, l.err = data.Open(spec)
			if l.err != nil {
				l.err = fmt.Errorf("setting data: %w", l.err)
			}
			cache[spec] = l
		}
		return l.d, l.err
	}
}

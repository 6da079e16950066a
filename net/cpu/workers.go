package cpu

import (
	"sync"
	"sync/atomic"
)

// job is one parallel operation: run does task i on worker w (0 <= w < threads). Tasks of a job
// must be independent; each worker owns its scratch (Backend.scratch[w]), so a task may use it freely.
type job interface {
	run(w, i int)
}

// workers is a fixed pool of goroutines that share the tasks of one job at a time. Jobs are
// passed as pointers to structs the Backend already holds, and the tasks are handed out by an
// atomic counter, so running a job allocates nothing.
type workers struct {
	threads int
	start   []chan struct{} // start[w] wakes worker w (w >= 1); the caller is worker 0
	wg      sync.WaitGroup
	cur     job
	tasks   int
	next    atomic.Int64
	closed  bool
}

func newWorkers(threads int) *workers {
	p := &workers{threads: threads, start: make([]chan struct{}, threads)}
	for w := 1; w < threads; w++ {
		p.start[w] = make(chan struct{})
		go p.serve(w)
	}
	return p
}

func (p *workers) serve(w int) {
	for range p.start[w] {
		p.drain(w)
		p.wg.Done()
	}
}

// drain runs tasks until none are left.
func (p *workers) drain(w int) {
	for {
		i := int(p.next.Add(1) - 1)
		if i >= p.tasks {
			return
		}
		p.cur.run(w, i)
	}
}

// do runs tasks 0..n-1 of j and returns when all are done.
func (p *workers) do(j job, n int) {
	helpers := min(p.threads, n) - 1
	if helpers <= 0 || p.closed {
		for i := 0; i < n; i++ {
			j.run(0, i)
		}
		return
	}
	p.cur, p.tasks = j, n
	p.next.Store(0)
	p.wg.Add(helpers)
	for w := 1; w <= helpers; w++ {
		p.start[w] <- struct{}{}
	}
	p.drain(0)
	p.wg.Wait()
	p.cur = nil
}

// close stops the helper goroutines; later jobs run on the caller alone.
func (p *workers) close() {
	if p.closed {
		return
	}
	p.closed = true
	for w := 1; w < p.threads; w++ {
		close(p.start[w])
	}
}

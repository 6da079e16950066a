package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"rout/sweep"
	"rout/trainer"
)

// sweepScreen is what a sweep shows while it runs. On a terminal: one bar for the whole sweep,
// with the time left, and in its description each running run's epoch and progress within it;
// lines printed meanwhile go above the bar. Elsewhere (a file, a pipe, CI) only the plain lines.
// Its writers serialise the lines of the runs running at once.
type sweepScreen struct {
	mu      sync.Mutex
	bar     *progressbar.ProgressBar // nil off a terminal
	total   int                      // runs planned
	done0   int                      // runs finished when this worker started
	done    int                      // runs finished now
	t0      time.Time
	running map[string]*runProgress
}

// runProgress is how far one running run has got.
type runProgress struct {
	step, start, end, perEpoch int
	eval                       string // "evaluating 40%" while it evaluates
}

// barUnits is the bar's resolution per run.
const barUnits = 1000

func newSweepScreen(errw io.Writer, total, done int) *sweepScreen {
	s := &sweepScreen{total: total, done0: done, done: done, t0: time.Now(), running: map[string]*runProgress{}}
	if f, ok := errw.(*os.File); ok && term.IsTerminal(int(f.Fd())) && total > done {
		s.bar = progressbar.NewOptions(barUnits*(total-done), progressbar.OptionSetWriter(errw),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription(s.describe()))
	}
	return s
}

// writer is w with lines written above the bar, one writer at a time.
func (s *sweepScreen) writer(w io.Writer) io.Writer { return &screenWriter{s: s, w: w} }

type screenWriter struct {
	s *sweepScreen
	w io.Writer
}

func (sw *screenWriter) Write(b []byte) (int, error) {
	sw.s.mu.Lock()
	defer sw.s.mu.Unlock()
	if sw.s.bar != nil {
		sw.s.bar.Clear()
	}
	n, err := sw.w.Write(b)
	if sw.s.bar != nil {
		sw.s.bar.RenderBlank()
	}
	return n, err
}

// observer follows one run: its steps and evaluations move the bar, its records go to lines.
func (s *sweepScreen) observer(pair string, lines trainer.Observer) trainer.Observer {
	return &sweepRunObserver{s: s, pair: pair, lines: lines}
}

// event takes note of a finished run.
func (s *sweepScreen) event(e sweep.Event) {
	if e.Kind != sweep.Finished && e.Kind != sweep.Failed && e.Kind != sweep.Interrupted {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, e.Pair.String())
	if e.Kind == sweep.Finished {
		s.done++
	}
	s.show()
}

// left estimates, for the plain lines, the time this worker needs for the runs not yet
// finished, from its pace so far; "" until one run has finished here, and on a terminal (the
// bar shows it).
func (s *sweepScreen) left() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ran := s.done - s.done0
	if ran == 0 || s.done >= s.total || s.bar != nil {
		return ""
	}
	per := time.Since(s.t0) / time.Duration(ran)
	return fmt.Sprintf("about %s left", (per * time.Duration(s.total-s.done)).Round(time.Second))
}

// close takes the bar off the screen.
func (s *sweepScreen) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bar != nil {
		s.bar.Clear()
		s.bar = nil
	}
}

// show sets the bar from the runs' progress; s.mu is held.
func (s *sweepScreen) show() {
	if s.bar == nil {
		return
	}
	units := barUnits * (s.done - s.done0)
	for _, r := range s.running {
		if span := r.end - r.start; span > 0 {
			units += barUnits * (r.step - r.start) / span
		}
	}
	s.bar.Describe(s.describe())
	s.bar.Set(min(units, s.bar.GetMax()))
}

// describe is "3/16 runs done; baseline/4 epoch 2 62%, randomout/4 evaluating 40%".
func (s *sweepScreen) describe() string {
	d := fmt.Sprintf("%d/%d runs done", s.done, s.total)
	var parts []string
	for _, pair := range slices.Sorted(maps.Keys(s.running)) {
		r := s.running[pair]
		switch {
		case r.eval != "":
			parts = append(parts, pair+" "+r.eval)
		case r.perEpoch > 0:
			parts = append(parts, fmt.Sprintf("%s epoch %d %d%%", pair, r.step/r.perEpoch+1, 100*(r.step%r.perEpoch)/r.perEpoch))
		}
	}
	if len(parts) > 0 {
		d += "; " + strings.Join(parts, ", ")
	}
	return d
}

// sweepRunObserver is one run's trainer.Observer (an EvalObserver too).
type sweepRunObserver struct {
	s     *sweepScreen
	pair  string
	lines trainer.Observer
}

func (o *sweepRunObserver) Start(p trainer.Plan) {
	o.lines.Start(p)
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	o.s.running[o.pair] = &runProgress{step: p.StartStep, start: p.StartStep, end: p.TotalSteps, perEpoch: p.StepsPerEpoch}
	o.s.show()
}

func (o *sweepRunObserver) Step(step int) {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if r := o.s.running[o.pair]; r != nil {
		r.step, r.eval = step, ""
		o.s.show()
	}
}

func (o *sweepRunObserver) Record(r trainer.Record) { o.lines.Record(r) }

func (o *sweepRunObserver) Evaluating(done, total int) {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if r := o.s.running[o.pair]; r != nil && o.s.bar != nil {
		r.eval = fmt.Sprintf("evaluating %d%%", 100*done/max(1, total))
		if done == total {
			r.eval = ""
		}
		o.s.show()
	}
}

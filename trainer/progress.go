package trainer

// EvalObserver is an Observer that also hears how far each evaluation has got: evaluating the
// 10,000 CIFAR-10 test images takes minutes on a CPU, with no step or record in between.
type EvalObserver interface {
	// Evaluating is called before the first batch (done 0) and after every batch queued, with
	// the examples done so far of total. On a GPU, "done" counts batches queued, not finished.
	Evaluating(done, total int)
}

// evalProgress is o's Evaluating, or nil when o does not want it.
func evalProgress(o Observer) func(done, total int) {
	if e, ok := o.(EvalObserver); ok {
		return e.Evaluating
	}
	return nil
}

package trainer

import (
	"testing"

	"rout/net"
	"rout/net/cpu"
)

// BenchmarkRuleCost times, on the CPU backend, each revival rule's own work for one step (what
// AfterForward and AfterUpdate queue, checking every step) beside a whole training step's
// forward, backward and Adam update, on the quick preset's network and batch: the rule's share of
// a step, which end-to-end timings on a busy machine cannot resolve.
//
//	go test -tags nocuda -run '^$' -bench RuleCost -benchtime 20x ./trainer/
func BenchmarkRuleCost(b *testing.B) {
	spec, err := net.LoadSpec("convnet-small")
	if err != nil {
		b.Fatal(err)
	}
	be := cpu.New(cpu.Options{})
	defer be.Close()
	n, err := net.Build(be, spec, 64, [3]int{3, 28, 28}, 10)
	if err != nil {
		b.Fatal(err)
	}
	n.Init(1)
	in := make([]float32, n.Input.Len())
	for i := range in {
		in[i] = float32(i%251)/125 - 1
	}
	be.Upload(n.Input, in)
	labels := make([]float32, n.Labels.Len())
	for i := range labels {
		labels[i] = float32(i % 10)
	}
	be.Upload(n.Labels, labels)
	stats, _ := be.Alloc(1, 3, 1, 1)
	m, _ := be.Alloc(n.Params.N, 1, 1, 1)
	v, _ := be.Alloc(n.Params.N, 1, 1, 1)
	moments := []*net.Tensor{m, v}
	ft, err := n.ConvTable(nil)
	if err != nil {
		b.Fatal(err)
	}
	step := 0
	b.Run("step", func(b *testing.B) {
		for range b.N {
			n.Forward(true)
			be.SoftmaxCrossEntropy(n.Logits, n.Labels, n.DLogits, stats, net.ReduceSum)
			n.Backward()
			be.AdamUpdate(n.Params, n.Grads, m, v, net.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: step + 1})
			step++
		}
	})
	n.Forward(true)
	ro, _ := NewRandomOut(be, ft, n.Params, n.Grads, RandomOutOptions{Enabled: true, Every: 1, Threshold: net.Threshold{Tau: 1e-30}, Moments: moments})
	redo, _ := NewReDo(be, n, ft, ReDoOptions{Every: 1, Tau: 0.1, Init: "glorot", Moments: moments})
	cbp, _ := NewCBP(be, n, ft, CBPOptions{Rate: 1e-3, Decay: 0.99, Maturity: 100, Init: "fan-in", Moments: moments})
	for _, r := range []struct {
		name string
		rev  Reviver
	}{{"randomout", ro}, {"redo", redo}, {"cbp", cbp}} {
		b.Run(r.name, func(b *testing.B) {
			for range b.N {
				if aw, ok := r.rev.(activationWatcher); ok {
					aw.AfterForward(step)
				}
				r.rev.AfterUpdate(step)
				step++
			}
		})
	}
}

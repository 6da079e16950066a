package net_test

import (
	"testing"

	"rout/net"
	"rout/net/cpu"
)

// BenchmarkTrainStep times one training step (Forward(true), the summed softmax cross-entropy,
// Backward) on the CPU backend with all its threads. GFLOP/s counts 3x the forward FLOPs per
// image (forward, backward-data and backward-filter are each one forward's multiply-adds; the
// first layer's unneeded backward-data is counted anyway), the usual convention.
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		name, model string
		batch       int
		in          [3]int
	}{
		{"inception28/b32", "inception28", 32, [3]int{3, 28, 28}},
		{"convnet-small/b128", "convnet-small", 128, [3]int{3, 32, 32}},
	} {
		b.Run(c.name, func(b *testing.B) {
			be := cpu.New(cpu.Options{})
			defer be.Close()
			spec, err := net.LoadSpec(c.model)
			if err != nil {
				b.Fatal(err)
			}
			n, err := net.Build(be, spec, c.batch, c.in, 10)
			if err != nil {
				b.Fatal(err)
			}
			n.Init(1)
			be.Upload(n.Input, uniform(2, 0, n.Input.Len(), 1))
			labels := make([]float32, c.batch)
			for i := range labels {
				labels[i] = float32(i % 10)
			}
			be.Upload(n.Labels, labels)
			stats, err := be.Alloc(1, 3, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			step := func() {
				n.Forward(true)
				be.SoftmaxCrossEntropy(n.Logits, n.Labels, n.DLogits, stats, net.ReduceSum)
				n.Backward()
			}
			step() // scratch buffers grow to size once
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			if err := be.Sync(); err != nil {
				b.Fatal(err)
			}
			images := float64(b.N*c.batch) / b.Elapsed().Seconds()
			b.ReportMetric(images, "images/s")
			b.ReportMetric(3*float64(n.FLOPs())*images/1e9, "GFLOP/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

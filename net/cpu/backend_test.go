package cpu

import (
	"runtime"
	"testing"

	"rout/net"
)

func TestMemoryOps(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(13)
	src := randTensor(t, b, r, 3, 2, 2, 2, true) // a channel slice: stride 20, offset 8
	if src.Stride != 20 || src.Offset != 8 {
		t.Fatalf("test setup: slice %v", src)
	}
	dst := randTensor(t, b, r, 3, 2, 2, 2, true)
	before := raw(b, dst)
	b.Copy(dst, src)
	checkOutside(t, "copy", before, raw(b, dst), dst)
	near(t, "copy", get64(b, dst), get64(b, src), 0)

	vals := make([]float32, 24)
	for i := range vals {
		vals[i] = float32(i)
	}
	before = raw(b, dst)
	b.Upload(dst, vals)
	checkOutside(t, "upload", before, raw(b, dst), dst)
	all := raw(b, dst)
	for n := 0; n < 3; n++ {
		for i := 0; i < 8; i++ {
			if all[8+20*n+i] != float32(8*n+i) {
				t.Fatalf("upload: sample %d element %d is %v, want %v", n, i, all[8+20*n+i], 8*n+i)
			}
		}
	}
	before = raw(b, dst)
	b.Fill(dst, 2.5)
	checkOutside(t, "fill", before, raw(b, dst), dst)
	for _, v := range get64(b, dst) {
		if v != 2.5 {
			t.Fatalf("fill: %v, want 2.5", v)
		}
	}

	z, err := b.Alloc(2, 3, 4, 5)
	if err != nil || z.Len() != 120 || z.Stride != 60 || !z.Dense() {
		t.Fatalf("alloc: %v, %v", z, err)
	}
	for _, v := range get64(b, z) {
		if v != 0 {
			t.Fatal("alloc: not zeroed")
		}
	}
	if _, err := b.Alloc(2, -1, 4, 5); err == nil {
		t.Fatal("alloc of a negative dimension succeeded")
	}
	if _, err := b.Alloc(1<<20, 1<<20, 1<<20, 1); err == nil {
		t.Fatal("alloc of 2^60 elements succeeded")
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestProvenance(t *testing.T) {
	b := newBackend(t, 3)
	p := b.Provenance()
	if b.Name() != "cpu" || p["backend"] != "cpu" || p["threads"] != "3" || p["goarch"] != runtime.GOARCH || p["go"] != runtime.Version() {
		t.Fatalf("provenance %v", p)
	}
	if def := New(Options{}); def.threads != runtime.GOMAXPROCS(0) {
		t.Fatalf("default threads %d, want GOMAXPROCS %d", def.threads, runtime.GOMAXPROCS(0))
	} else {
		def.Close()
	}
	b.Close()
	if _, err := b.Alloc(1, 1, 1, 1); err == nil {
		t.Fatal("alloc after close succeeded")
	}
}

// TestStepAllocs checks that the operations of a training step allocate nothing after warm-up.
func TestStepAllocs(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(14)
	x := randTensor(t, b, r, 4, 3, 6, 6, true)
	y := randTensor(t, b, r, 4, 3, 3, 3, false)
	dx := randTensor(t, b, r, 4, 3, 6, 6, false)
	w := randTensor(t, b, r, 10, 27, 1, 1, false)
	fc := randTensor(t, b, r, 4, 10, 1, 1, false)
	labels, _ := b.Alloc(4, 1, 1, 1)
	stats, _ := b.Alloc(1, 3, 1, 1)
	ch := make([]*net.Tensor, 8)
	for i := range ch {
		ch[i] = randTensor(t, b, r, 1, 3, 1, 1, false)
	}
	b.Fill(ch[3], 1)
	params := randTensor(t, b, r, 200, 1, 1, 1, false)
	grads := randTensor(t, b, r, 200, 1, 1, 1, false)
	m, _ := b.Alloc(200, 1, 1, 1)
	v, _ := b.Alloc(200, 1, 1, 1)
	ft, _ := testTable()
	norms, _ := b.Alloc(ft.Filters, 1, 1, 1)
	mask, _ := b.Alloc(ft.Filters, 1, 1, 1)
	counts, _ := b.Alloc(3, 1, 1, 1)
	px, labs := testImages()
	set, _ := b.NewImageSet(px, labs, 5, 2, 4, 5)
	b.SetOrder(set, []int32{4, 3, 2, 1, 0})
	img, _ := b.Alloc(4, 2, 3, 3)
	moments := []*net.Tensor{m, v}
	pool := pp(net.MaxPool, 3, 2, 0, true)
	bn := net.BatchNormParams{Training: true, Momentum: 0.1, Eps: 1e-5}
	step := func() {
		b.GatherBatch(set, 1, img, labels, net.Augment{CropH: 3, CropW: 3, Pad: 1, RandomCrop: true, Flip: true})
		b.ReLUForward(x, x)
		b.PoolForward(x, y, pool)
		b.BatchNormForward(y, y, ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], bn)
		b.DenseForward(y, w, nil, fc)
		b.SoftmaxCrossEntropy(fc, labels, fc, stats, net.ReduceMean)
		b.DenseBackwardFilter(y, fc, w, nil)
		b.DenseBackwardData(fc, w, y, false)
		b.BatchNormBackward(y, y, y, ch[0], ch[6], ch[7], ch[4], ch[5], bn)
		b.PoolBackward(x, y, y, dx, pool, false)
		b.ReLUBackward(x, dx, dx)
		b.AdamUpdate(params, grads, m, v, net.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1})
		b.SGDUpdate(params, grads, m, net.SGDParams{LR: 0.1, Momentum: 0.9})
		b.FilterNorms(ft, grads, norms, net.NormL1)
		b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 1})
		b.RedrawFilters(ft, mask, net.Redraw{Seed: 1, Purpose: 2, Params: params, Moments: moments, Counts: counts})
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Fatalf("%v allocations per step after warm-up, want 0", a)
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
}

package cpu

import (
	"math"

	"rout/net"
)

// reluJob runs ReLU forward or backward on one sample per task.
type reluJob struct {
	backward   bool
	a, b, c    []float32 // forward: x, y; backward: y, dy, dx
	at, bt, ct *net.Tensor
}

// ReLUForward runs one sample per task.
func (b *Backend) ReLUForward(x, y *net.Tensor) {
	sameShape("relu forward", x, y)
	j := &b.relu
	*j = reluJob{a: data(x), b: data(y), at: x, bt: y}
	b.pool.do(j, x.N)
	*j = reluJob{}
}

// ReLUBackward runs one sample per task.
func (b *Backend) ReLUBackward(y, dy, dx *net.Tensor) {
	sameShape("relu backward", y, dy)
	sameShape("relu backward", y, dx)
	j := &b.relu
	*j = reluJob{backward: true, a: data(y), b: data(dy), c: data(dx), at: y, bt: dy, ct: dx}
	b.pool.do(j, y.N)
	*j = reluJob{}
}

func (j *reluJob) run(_, n int) {
	if j.backward {
		reluBackward(sample(j.a, j.at, n), sample(j.b, j.bt, n), sample(j.c, j.ct, n))
	} else {
		reluForward(sample(j.a, j.at, n), sample(j.b, j.bt, n))
	}
}

func reluForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

func reluBackward(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & positiveMask(v))
	}
}

// positiveMask is all ones where v > 0 and zero elsewhere (zeros, negatives, NaNs), without a
// branch: about half of a ReLU's outputs are zero in no predictable order, and the branch it
// replaces cost five times the loop's time in mispredictions (net/cpu BenchmarkReLU). v > 0
// exactly when its bits lie in [1, 0x7F800000] (the smallest subnormal up to +Inf), that is,
// when bits-1 is below 0x7F800000 as an unsigned number.
func positiveMask(v float32) uint32 {
	below := int64(math.Float32bits(v)-1) - 0x7F800000
	return uint32(below >> 63)
}

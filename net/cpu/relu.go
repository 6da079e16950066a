package cpu

import (
	"rout/net"
	"rout/net/cpu/internal/vec"
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
		vec.ReLUGrad(sample(j.a, j.at, n), sample(j.b, j.bt, n), sample(j.c, j.ct, n))
	} else {
		vec.ReLU(sample(j.a, j.at, n), sample(j.b, j.bt, n))
	}
}

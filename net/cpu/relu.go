package cpu

import "rout/net"

// reluJob runs ReLU forward or backward on one sample per task.
type reluJob struct {
	backward   bool
	a, b, c    []float32 // forward: x, y; backward: y, dy, dx
	at, bt, ct *net.Tensor
}

// ReLUForward: y = max(x, 0). y may be x.
func (b *Backend) ReLUForward(x, y *net.Tensor) {
	sameShape("relu forward", x, y)
	j := &b.relu
	*j = reluJob{a: data(x), b: data(y), at: x, bt: y}
	b.pool.do(j, x.N)
	*j = reluJob{}
}

// ReLUBackward: dx = dy where y > 0, else 0. dx may be dy.
func (b *Backend) ReLUBackward(y, dy, dx *net.Tensor) {
	sameShape("relu backward", y, dy)
	sameShape("relu backward", y, dx)
	j := &b.relu
	*j = reluJob{backward: true, a: data(y), b: data(dy), c: data(dx), at: y, bt: dy, ct: dx}
	b.pool.do(j, y.N)
	*j = reluJob{}
}

func (j *reluJob) run(_, n int) {
	if !j.backward {
		x, y := sample(j.a, j.at, n), sample(j.b, j.bt, n)
		for i, v := range x {
			y[i] = max(v, 0)
		}
		return
	}
	y, dy, dx := sample(j.a, j.at, n), sample(j.b, j.bt, n), sample(j.c, j.ct, n)
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

package trainer

import (
	"fmt"
	"math"

	"rout/net"
)

// Optimizer updates a network's flat parameter tensor from its flat gradient tensor with one
// fused backend operation, keeping its state in tensors laid out like the parameters (so that
// RandomOut can zero a filter's moments and checkpoints can save them).
type Optimizer interface {
	// Update applies the update of step (counting from 0) with learning rate lr.
	Update(step int, lr float64)
	// Moments are the state tensors, in the order of MomentNames.
	Moments() []*net.Tensor
	// MomentNames name the state tensors in checkpoints.
	MomentNames() []string
}

// newOptimizer allocates the optimiser a config names for params and grads.
func newOptimizer(b net.Backend, c *Config, params, grads *net.Tensor) (Optimizer, error) {
	n := map[string]int{"adam": 2, "sgd": 1}[c.Optimizer]
	if n == 0 {
		return nil, fmt.Errorf("setting optimizer: %q is not one of adam, sgd", c.Optimizer)
	}
	moments := make([]*net.Tensor, n)
	for i := range moments {
		t, err := b.Alloc(params.N, params.C, params.H, params.W)
		if err != nil {
			return nil, fmt.Errorf("optimizer %s: allocating its state: %w", c.Optimizer, err)
		}
		moments[i] = t
	}
	return optimizerOn(b, c, params, grads, moments), nil
}

// optimizerOn is the optimiser a config names over params and grads with its state in moments
// (as many as MomentNames, laid out like params): a run's own, or a pack member's stretch of
// the pack's.
func optimizerOn(b net.Backend, c *Config, params, grads *net.Tensor, moments []*net.Tensor) Optimizer {
	if c.Optimizer == "sgd" {
		return &sgd{b: b, params: params, grads: grads, vel: moments[0], h: net.SGDParams{
			Momentum: float32(c.Momentum), WeightDecay: float32(c.WeightDecay), Nesterov: c.Nesterov}}
	}
	return &adam{b: b, params: params, grads: grads, m: moments[0], v: moments[1], eps: c.Eps, beta2: c.Beta2, mxnetEps: c.MXNetEps,
		h: net.AdamParams{Beta1: float32(c.Beta1), Beta2: float32(c.Beta2), Eps: float32(c.Eps), WeightDecay: float32(c.WeightDecay)}}
}

type adam struct {
	b             net.Backend
	params, grads *net.Tensor
	m, v          *net.Tensor
	h             net.AdamParams
	eps, beta2    float64
	mxnetEps      bool
}

// Update runs the backend's Adam step. MXNet's Adam, p -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v) +
// eps), is the backend's (PyTorch's) rule with eps/sqrt(1-b2^t) for eps, so --adam-mxnet-eps
// only changes the eps passed each step.
func (a *adam) Update(step int, lr float64) {
	h := a.h
	h.LR = float32(lr)
	h.Step = step + 1
	if a.mxnetEps {
		h.Eps = float32(a.eps / math.Sqrt(-math.Expm1(float64(h.Step)*math.Log(a.beta2))))
	}
	a.b.AdamUpdate(a.params, a.grads, a.m, a.v, h)
}

func (a *adam) Moments() []*net.Tensor { return []*net.Tensor{a.m, a.v} }
func (a *adam) MomentNames() []string  { return []string{"adam.m", "adam.v"} }

type sgd struct {
	b             net.Backend
	params, grads *net.Tensor
	vel           *net.Tensor
	h             net.SGDParams
}

func (s *sgd) Update(step int, lr float64) {
	h := s.h
	h.LR = float32(lr)
	s.b.SGDUpdate(s.params, s.grads, s.vel, h)
}

func (s *sgd) Moments() []*net.Tensor { return []*net.Tensor{s.vel} }
func (s *sgd) MomentNames() []string  { return []string{"sgd.velocity"} }

// learningRate is the schedule's rate for step (from 0) of a run of total steps with
// stepsPerEpoch steps per epoch. The schedule spans --epochs, not --max-steps, so that a smoke run
// follows the real run's rates.
func learningRate(c *Config, step, stepsPerEpoch, total int) float64 {
	switch c.Schedule {
	case "step":
		return c.LR * math.Pow(c.LRGamma, float64(step/stepsPerEpoch/c.LRStep))
	case "cosine":
		if total <= 1 {
			return c.LR
		}
		t := float64(step) / float64(total-1)
		return c.LRMin + (c.LR-c.LRMin)*(1+math.Cos(math.Pi*t))/2
	}
	return c.LR
}

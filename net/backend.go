package net

// Backend is every operation a training step needs. The CPU backend (net/cpu) is the reference;
// the GPU backend (net/gpu) runs the same operations through cuDNN and rout's kernels.
//
// The interface is shaped so that a device backend can keep all data on the device, allocate
// everything before the first step and never wait on the host inside a step:
//   - operations return nothing; a device backend may run them asynchronously. The first failure
//     is kept and reported by Err and Sync (like bufio.Writer's sticky error);
//   - results that the host wants (loss, accuracy, RandomOut counters) are accumulated into small
//     tensors on the device and read with Download only at log intervals;
//   - random draws are addressed by counters (package rng), never by a host-side generator state.
//
// Shapes are the caller's responsibility; a backend may panic on a shape mismatch, which is a
// programming error, never a user error. Outputs must not alias inputs unless an operation says so.
// "accumulate" means the result is added to the output's contents instead of replacing them
// (how the gradients of a block's branches sum into the block input's gradient).
type Backend interface {
	// Name is "cpu" or "gpu".
	Name() string
	// Provenance describes the device and libraries for a run's config.json
	// (device name, library versions, TF32 and determinism modes, thread count).
	Provenance() map[string]string

	// Alloc returns a dense zeroed n x c x h x w tensor.
	Alloc(n, c, h, w int) (*Tensor, error)
	// Upload copies src (t.Len() values, sample-major) into t, respecting its stride.
	Upload(t *Tensor, src []float32)
	// Download copies t into dst (t.Len() values); it waits for pending work.
	Download(t *Tensor, dst []float32)
	// Fill sets every element of t to v.
	Fill(t *Tensor, v float32)
	// Copy copies src into dst (same shape; either may be strided).
	Copy(dst, src *Tensor)
	// Err returns the first error seen so far, without waiting.
	Err() error
	// Sync waits for all queued work and returns the first error seen.
	Sync() error
	// Close frees everything the backend allocated.
	Close() error

	// ConvForward: y = conv(x, w) + b. x is N x C x H x W, w is K x C x KH x KW, b is K x 1 x 1 x 1
	// or nil, y is N x K x OH x OW (OutSize). y may be a channel slice. With p.Groups = G, x has
	// G*C channels and each group of K/G filters sees its own C (see ConvParams.Groups).
	ConvForward(x, w, b, y *Tensor, p ConvParams)
	// ConvBackwardData: dx (+)= the gradient with respect to x.
	ConvBackwardData(dy, w, dx *Tensor, p ConvParams, accumulate bool)
	// ConvBackwardFilter: dw = the gradient with respect to w, db = with respect to b (db may be nil).
	ConvBackwardFilter(x, dy, dw, db *Tensor, p ConvParams)

	// ReLUForward: y = max(x, 0). y may be x.
	ReLUForward(x, y *Tensor)
	// ReLUBackward: dx = dy where y > 0, else 0. dx may be dy.
	ReLUBackward(y, dy, dx *Tensor)

	// PoolForward: max or average pooling (PoolParams.Mode) of x into y.
	PoolForward(x, y *Tensor, p PoolParams)
	// PoolBackward: dx (+)= the gradient with respect to x. A max window's gradient goes to its
	// first maximal element in row-major window order.
	PoolBackward(x, y, dy, dx *Tensor, p PoolParams, accumulate bool)

	// DenseForward: y = x W^T + b, x viewed as N x D (D = C*H*W), w as O x D (O x D x 1 x 1),
	// b is O x 1 x 1 x 1 or nil, y is N x O x 1 x 1.
	DenseForward(x, w, b, y *Tensor)
	// DenseBackwardData: dx (+)= dy W.
	DenseBackwardData(dy, w, dx *Tensor, accumulate bool)
	// DenseBackwardFilter: dw = dy^T x, db = column sums of dy (db may be nil).
	DenseBackwardFilter(x, dy, dw, db *Tensor)

	// BatchNormForward normalises each channel over N, H and W. scale and bias (gamma, beta),
	// runMean, runVar, saveMean, saveInvStd are 1 x C x 1 x 1. In training it uses the batch's
	// statistics, stores mean and 1/sqrt(var+eps) in saveMean/saveInvStd for the backward pass,
	// and updates run = (1-Momentum)*run + Momentum*batch (the variance unbiased, as cuDNN does).
	// Otherwise it uses runMean and runVar.
	BatchNormForward(x, y, scale, bias, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams)
	// BatchNormBackward: dx = the gradient with respect to x (training-mode statistics),
	// dScale and dBias the gradients of gamma and beta (overwritten).
	BatchNormBackward(x, dy, dx, scale, dScale, dBias, saveMean, saveInvStd *Tensor, p BatchNormParams)

	// SoftmaxCrossEntropy takes logits N x K x 1 x 1 and labels N x 1 x 1 x 1 (class indices
	// stored as float32; a negative label marks a padding example that is ignored). It adds
	// [summed loss, correct predictions, examples counted] to stats (1 x 3 x 1 x 1) and, when
	// dlogits is not nil, writes the gradient of the loss with respect to the logits: softmax
	// minus one-hot, divided by the number of counted examples for ReduceMean.
	// A prediction is correct when the label's logit is strictly the largest, ties going to the
	// lowest index.
	SoftmaxCrossEntropy(logits, labels, dlogits, stats *Tensor, r Reduction)

	// AdamUpdate is one fused Adam step (Kingma & Ba, with bias correction, as PyTorch's Adam)
	// over all parameters: g' = g + WeightDecay*p; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
	// p -= LR * (m/(1-b1^Step)) / (sqrt(v/(1-b2^Step)) + Eps).
	AdamUpdate(params, grads, m, v *Tensor, h AdamParams)
	// SGDUpdate is one fused SGD step with momentum (PyTorch's convention):
	// g' = g + WeightDecay*p; vel = Momentum*vel + g'; p -= LR * (Nesterov ? g' + Momentum*vel : vel).
	SGDUpdate(params, grads, vel *Tensor, h SGDParams)

	// FilterNorms writes, for every filter of every group of ft, the norm of its slice of grads
	// (the flat gradient tensor) into norms (ft.Filters x 1 x 1 x 1), all groups in one pass.
	FilterNorms(ft *FilterTable, grads, norms *Tensor, kind NormKind)
	// MarkBelow sets mask[f] = 1 where norms[f] < Tau (or < Tau times the mean norm of f's group
	// when Relative), else 0, and adds the number marked in each group to counts
	// (len(ft.Groups) x 1 x 1 x 1). It is RandomOut's decision, and the dead-filter measure.
	// The relative limit is the group's mean norm, summed in float64 and rounded to float32, times
	// Tau in float32; a group whose mean is zero (every filter dead) is marked whole when Tau > 0,
	// where the product alone would mark none.
	MarkBelow(ft *FilterTable, norms, mask, counts *Tensor, th Threshold)
	// RedrawFilters re-draws the weights of every filter whose mask is non-zero (every filter when
	// mask is nil) from its group's initialiser: weight j of filter k of group g becomes
	// g.Bound * rng.Symmetric(rng.Uint32(key(Seed), Purpose, g.Layer, k, j)), one float32
	// multiply. See Redraw for the optional parts.
	RedrawFilters(ft *FilterTable, mask *Tensor, r Redraw)

	// Reviving holds the operations of the activation-based revival rules (ReDo, continual
	// backprop).
	Reviving

	// NewImageSet holds a dataset of n uint8 images (n x c x h x w, sample-major) and their labels
	// on the device, once, for GatherBatch.
	NewImageSet(pixels []uint8, labels []int32, n, c, h, w int) (ImageSet, error)
	// SetOrder sets the sequence of example indices that GatherBatch reads from (an epoch's
	// permutation, or 0..n-1 for evaluation). It may be shorter than the set. An index outside the
	// set is recorded for Err and the order is left unchanged.
	SetOrder(set ImageSet, order []int32)
	// GatherBatch fills x (B x C x CropH x CropW) and labels (B x 1 x 1 x 1) with the examples at
	// positions [start, start+B) of the order, prepared as Augment says. Positions past the end of
	// the order give zero images with label -1 (ignored by the loss).
	GatherBatch(set ImageSet, start int, x, labels *Tensor, a Augment)
}

// StepRunner is implemented by backends that can run a training step's work faster as a whole
// than call by call: the GPU backend captures it into a CUDA graph and replays the graph.
type StepRunner interface {
	// RunStep runs f, which queues one training step's work. f may be run twice (the GPU backend
	// first records what it would queue); it must queue the same work each time and never wait
	// (Download, Sync).
	RunStep(f func())
	// StepReport says what RunStep did, for a run's summary ("" when it only ran steps directly).
	StepReport() string
}

// RunStep runs f, one training step's work, through b's RunStep when b is a StepRunner, else
// directly.
func RunStep(b Backend, f func()) {
	if sr, ok := b.(StepRunner); ok {
		sr.RunStep(f)
		return
	}
	f()
}

// ImageSet is a dataset held by a backend (device memory for the GPU).
type ImageSet interface {
	Len() int
}

// ConvParams are a convolution's stride and zero padding; the kernel size comes from w.
type ConvParams struct {
	StrideH, StrideW int
	PadH, PadW       int
	// Groups splits the channels into that many independent convolutions (0 and 1: one), as
	// cuDNN's group count does: x has Groups*C channels, w is Groups*Kg x C x KH x KW, and
	// filters [g*Kg, (g+1)*Kg) read only x's channels [g*C, (g+1)*C). A pack of runs trains
	// as one network through them, one group per run.
	Groups int
}

// GroupCount is the number of groups, at least 1.
func (p ConvParams) GroupCount() int { return max(1, p.Groups) }

// OutSize is the output height and width for an h x w input and a kh x kw kernel.
func (p ConvParams) OutSize(h, w, kh, kw int) (int, int) {
	return (h+2*p.PadH-kh)/p.StrideH + 1, (w+2*p.PadW-kw)/p.StrideW + 1
}

// PoolMode selects max or average pooling.
type PoolMode int

const (
	MaxPool PoolMode = iota
	// AvgPool divides each window's sum by the number of its elements inside the input
	// (padding and overhang are not counted).
	AvgPool
)

// PoolParams describe a pooling window.
type PoolParams struct {
	Mode             PoolMode
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
	// Ceil selects MXNet's old "full" output rule, out = ceil((in+2p-k)/s)+1, whose last window
	// may hang over the edge (28 -> 14 -> 7 for 3x3 stride 2); otherwise the usual floor rule.
	// As in PyTorch, a last window that would start beyond the input (in the padding) is dropped.
	Ceil bool
}

// OutSize is the pooled height and width for an h x w input.
func (p PoolParams) OutSize(h, w int) (int, int) {
	return poolOut(h, p.KH, p.StrideH, p.PadH, p.Ceil), poolOut(w, p.KW, p.StrideW, p.PadW, p.Ceil)
}

func poolOut(in, k, s, pad int, ceil bool) int {
	span := in + 2*pad - k
	if !ceil {
		return span/s + 1
	}
	out := (span+s-1)/s + 1
	if (out-1)*s >= in+pad {
		out--
	}
	return out
}

// BatchNormParams configure batch normalisation.
type BatchNormParams struct {
	Training bool
	Momentum float64 // weight of the batch statistics in the running averages
	Eps      float64
}

// Reduction says how a batch's per-example losses combine.
type Reduction int

const (
	ReduceSum  Reduction = iota // the paper's: the loss summed over the batch
	ReduceMean                  // averaged over the counted examples
)

// AdamParams are one Adam step's hyper-parameters. Step counts from 1.
type AdamParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
}

// SGDParams are one SGD step's hyper-parameters.
type SGDParams struct {
	LR, Momentum, WeightDecay float32
	Nesterov                  bool
}

// Augment says how GatherBatch prepares each example. Output element (c, y, x) of an example is
//
//	(float32(pixel) * Scale - Mean[c, y, x] - ChanMean[c]) * ChanInvStd[c]
//
// where pixel is the source pixel at (c, y+OffY, x+OffX) in the image zero-padded by Pad on every
// side (mirrored in x when flipped), Mean is optional (nil: 0) and ChanMean/ChanInvStd are
// optional (empty: 0 and 1). Without RandomCrop the offset is the centred one,
// ((H+2*Pad-CropH)/2, (W+2*Pad-CropW)/2). With RandomCrop, OffY and OffX are
// (uint64(d) * uint64(H+2*Pad-CropH+1)) >> 32 for draws d = rng.Uint32(key(Seed), rng.StreamAugment,
// Epoch, example index, 0 and 1), the example index being order[position], its index in the set;
// with Flip, the example is mirrored when draw 2's top bit is set: output column x then reads source
// column (CropW-1-x)+OffX-Pad (the crop is mirrored, not the source before cropping).
type Augment struct {
	CropH, CropW int
	Pad          int
	RandomCrop   bool
	Flip         bool
	Seed         uint64 // the data seed
	Epoch        uint32
	Scale        float32 // 0 means 1
	Mean         *Tensor // 1 x C x CropH x CropW, or nil
	ChanMean     []float32
	ChanInvStd   []float32
}

package net

// A layer is one built layer: its tensors are allocated once by Build and every call only
// queues backend operations.
//
// Gradient plumbing: a layer writes the gradient with respect to its input into dx, replacing
// dx's contents unless acc is set (then it adds: the later branches of a concat block sum into
// the block input's gradient). dx is nil when the input is the network's Input, which needs no
// gradient. A layer's dy is written by the layer that consumes its output before backward runs;
// layers may overwrite dy in place (ReLU's backward does).
type layer interface {
	forward(training bool)
	backward()
}

// convLayer is a convolution with optional batch norm and ReLU (the paper's unit).
type convLayer struct {
	b         Backend
	p         ConvParams
	x, dx     *Tensor
	w, bias   *Tensor // bias nil when the layer has none
	dw, db    *Tensor
	y, dy     *Tensor // y may be a channel slice of a block's output
	relu, acc bool
	bn        *bnPart
}

// bnPart is the batch norm between a convolution (output z) and its activation.
type bnPart struct {
	p                    BatchNormParams
	z, dz                *Tensor
	gamma, beta          *Tensor
	dGamma, dBeta        *Tensor
	runMean, runVar      *Tensor
	saveMean, saveInvStd *Tensor
}

func (l *convLayer) forward(training bool) {
	if l.bn == nil {
		l.b.ConvForward(l.x, l.w, l.bias, l.y, l.p)
	} else {
		n := l.bn
		l.b.ConvForward(l.x, l.w, l.bias, n.z, l.p)
		p := n.p
		p.Training = training
		l.b.BatchNormForward(n.z, l.y, n.gamma, n.beta, n.runMean, n.runVar, n.saveMean, n.saveInvStd, p)
	}
	if l.relu {
		l.b.ReLUForward(l.y, l.y)
	}
}

func (l *convLayer) backward() {
	if l.relu {
		l.b.ReLUBackward(l.y, l.dy, l.dy)
	}
	g := l.dy
	if n := l.bn; n != nil {
		p := n.p
		p.Training = true
		l.b.BatchNormBackward(n.z, l.dy, n.dz, n.gamma, n.dGamma, n.dBeta, n.saveMean, n.saveInvStd, p)
		g = n.dz
	}
	l.b.ConvBackwardFilter(l.x, g, l.dw, l.db, l.p)
	if l.dx != nil {
		l.b.ConvBackwardData(g, l.w, l.dx, l.p, l.acc)
	}
}

// denseLayer is a fully connected layer with an optional ReLU.
type denseLayer struct {
	b         Backend
	x, dx     *Tensor
	w, bias   *Tensor
	dw, db    *Tensor
	y, dy     *Tensor
	relu, acc bool
}

func (l *denseLayer) forward(bool) {
	l.b.DenseForward(l.x, l.w, l.bias, l.y)
	if l.relu {
		l.b.ReLUForward(l.y, l.y)
	}
}

func (l *denseLayer) backward() {
	if l.relu {
		l.b.ReLUBackward(l.y, l.dy, l.dy)
	}
	l.b.DenseBackwardFilter(l.x, l.dy, l.dw, l.db)
	if l.dx != nil {
		l.b.DenseBackwardData(l.dy, l.w, l.dx, l.acc)
	}
}

// poolLayer is max or average pooling.
type poolLayer struct {
	b     Backend
	p     PoolParams
	x, dx *Tensor
	y, dy *Tensor
	acc   bool
}

func (l *poolLayer) forward(bool) { l.b.PoolForward(l.x, l.y, l.p) }

func (l *poolLayer) backward() {
	if l.dx != nil {
		l.b.PoolBackward(l.x, l.y, l.dy, l.dx, l.p, l.acc)
	}
}

// reluLayer is a standalone ReLU. Its backward cannot accumulate, so the builder never gives it
// acc (see canAccumulate).
type reluLayer struct {
	b     Backend
	x, dx *Tensor
	y, dy *Tensor
}

func (l *reluLayer) forward(bool) { l.b.ReLUForward(l.x, l.y) }

func (l *reluLayer) backward() {
	if l.dx != nil {
		l.b.ReLUBackward(l.y, l.dy, l.dx)
	}
}

// identityLayer is an empty concat branch: the block's input copied into its channel slice.
// Like reluLayer its backward cannot accumulate.
type identityLayer struct {
	b     Backend
	x, dx *Tensor
	y, dy *Tensor
}

func (l *identityLayer) forward(bool) { l.b.Copy(l.y, l.x) }

func (l *identityLayer) backward() {
	if l.dx != nil {
		l.b.Copy(l.dx, l.dy)
	}
}

// concatLayer runs its branches, each of which ends by writing its channel slice of the block's
// output, so concatenation itself costs nothing. Backward runs the branches in an order in which
// the first one written replaces the input gradient and the others add to it.
type concatLayer struct {
	branches [][]layer // in backward order
}

func (l *concatLayer) forward(training bool) {
	for _, br := range l.branches {
		for _, x := range br {
			x.forward(training)
		}
	}
}

func (l *concatLayer) backward() {
	for _, br := range l.branches {
		for i := len(br) - 1; i >= 0; i-- {
			br[i].backward()
		}
	}
}

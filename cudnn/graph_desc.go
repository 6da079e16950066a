//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// The backend descriptors of cuDNN's graph API, and the operation graph and variant pack of a
// convolution made from them.

// bdesc is one backend descriptor.
type bdesc struct{ d C.rc_cudnnBackendDescriptor_t }

func newBdesc(kind C.int, what string) (*bdesc, error) {
	b := &bdesc{}
	if err := dnnErr("cudnnBackendCreateDescriptor", C.rc_cudnnBackendCreateDescriptor(C.rc_cudnnBackendDescriptorType_t(kind), &b.d)); err != nil {
		err.(*Error).Detail = what
		return nil, err
	}
	return b, nil
}

func (b *bdesc) close() {
	if b != nil && b.d != nil {
		C.rc_cudnnBackendDestroyDescriptor(b.d)
		b.d = nil
	}
}

// set sets attribute name to count elements of type typ at p.
func (b *bdesc) set(name, typ C.int, count int, p unsafe.Pointer) error {
	err := dnnErr("cudnnBackendSetAttribute", C.rc_cudnnBackendSetAttribute(b.d, C.rc_cudnnBackendAttributeName_t(name),
		C.rc_cudnnBackendAttributeType_t(typ), C.int64_t(count), p))
	if err != nil {
		err.(*Error).Detail = fmt.Sprintf("attribute %d (type %d, %d elements)", int(name), int(typ), count)
	}
	return err
}

func (b *bdesc) setInt64s(name C.int, v ...int64) error {
	return b.set(name, C.RC_CUDNN_TYPE_INT64, len(v), unsafe.Pointer(&v[0]))
}

func (b *bdesc) setEnum(name, typ C.int, v C.int) error {
	return b.set(name, typ, 1, unsafe.Pointer(&v))
}

// setFloat sets a float scalar: the type of a float32 convolution's alpha and beta.
func (b *bdesc) setFloat(name C.int, v float32) error {
	f := C.float(v)
	return b.set(name, C.RC_CUDNN_TYPE_FLOAT, 1, unsafe.Pointer(&f))
}

func (b *bdesc) setDescs(name C.int, ds ...*bdesc) error {
	raw := make([]C.rc_cudnnBackendDescriptor_t, len(ds))
	for i, d := range ds {
		raw[i] = d.d
	}
	return b.set(name, C.RC_CUDNN_TYPE_BACKEND_DESCRIPTOR, len(raw), unsafe.Pointer(&raw[0]))
}

func (b *bdesc) setHandle(name C.int, h C.rc_cudnnHandle_t) error {
	return b.set(name, C.RC_CUDNN_TYPE_HANDLE, 1, unsafe.Pointer(&h))
}

func (b *bdesc) finalize(what string) error {
	err := dnnErr("cudnnBackendFinalize", C.rc_cudnnBackendFinalize(b.d))
	if err != nil {
		err.(*Error).Detail = what
	}
	return err
}

// get reads up to len elements of attribute name into p and returns how many there are.
func (b *bdesc) get(name, typ C.int, n int, p unsafe.Pointer) (int, error) {
	var got C.int64_t
	err := dnnErr("cudnnBackendGetAttribute", C.rc_cudnnBackendGetAttribute(b.d, C.rc_cudnnBackendAttributeName_t(name),
		C.rc_cudnnBackendAttributeType_t(typ), C.int64_t(n), &got, p))
	if err != nil {
		err.(*Error).Detail = fmt.Sprintf("attribute %d (type %d)", int(name), int(typ))
	}
	return int(got), err
}

func closeAll(ds []*bdesc) {
	for _, d := range ds {
		d.close()
	}
}

// The tensors' unique ids in every graph.
const (
	uidX = 'x'
	uidW = 'w'
	uidY = 'y'
)

// uid2index is the operand index (0 x, 1 w, 2 y) of a unique id.
func uid2index(uid int64) int { return map[int64]int{uidX: 0, uidW: 1, uidY: 2}[uid] }

// newVariantPack names the data pointers of x, w and y (by their unique ids) and the workspace.
func newVariantPack(ptrs [3]DevicePtr, ws DevicePtr) (*bdesc, error) {
	vp, err := newBdesc(C.RC_CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack")
	if err != nil {
		return nil, err
	}
	data := []uint64{uint64(ptrs[0]), uint64(ptrs[1]), uint64(ptrs[2])}
	work := uint64(ws)
	err = errors.Join(
		vp.setInt64s(C.RC_CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uidX, uidW, uidY),
		vp.set(C.RC_CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, C.RC_CUDNN_TYPE_VOID_PTR, 3, unsafe.Pointer(&data[0])),
		vp.set(C.RC_CUDNN_ATTR_VARIANT_PACK_WORKSPACE, C.RC_CUDNN_TYPE_VOID_PTR, 1, unsafe.Pointer(&work)))
	if err == nil {
		err = vp.finalize("variant pack")
	}
	if err != nil {
		vp.close()
		return nil, err
	}
	return vp, nil
}

// opGraph builds the operation graph of gk (and the descriptors it holds, closed by the
// returned function once the graph is no longer needed).
func (c *Context) opGraph(gk graphKey, x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc) (*bdesc, func(), error) {
	var made []*bdesc
	release := func() { closeAll(made) }
	// build makes a descriptor of kind, sets its attributes with set and finalises it.
	build := func(kind C.int, what string, set func(d *bdesc) error) (*bdesc, error) {
		d, err := newBdesc(kind, what)
		if err != nil {
			return nil, err
		}
		made = append(made, d)
		if err := set(d); err != nil {
			return nil, err
		}
		return d, d.finalize(what)
	}
	tensor := func(uid int64, dims, strides []int64) (*bdesc, error) {
		return build(C.RC_CUDNN_BACKEND_TENSOR_DESCRIPTOR, fmt.Sprintf("tensor %c %v strides %v", rune(uid), dims, strides),
			func(t *bdesc) error {
				return errors.Join(
					t.setEnum(C.RC_CUDNN_ATTR_TENSOR_DATA_TYPE, C.RC_CUDNN_TYPE_DATA_TYPE, C.RC_CUDNN_DATA_FLOAT),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_DIMENSIONS, dims...),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_STRIDES, strides...),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_UNIQUE_ID, uid),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, gk.align[uid2index(uid)]))
			})
	}
	view := func(t *TensorDesc) ([]int64, []int64) {
		return []int64{int64(t.N), int64(t.C), int64(t.H), int64(t.W)},
			[]int64{int64(t.StrideN), int64(t.StrideC), int64(t.StrideH), int64(t.StrideW)}
	}
	xd, xs := view(x)
	yd, ys := view(y)
	tx, errX := tensor(uidX, xd, xs)
	tw, errW := tensor(uidW, []int64{int64(w.K), int64(w.C), int64(w.H), int64(w.W)},
		[]int64{int64(w.C * w.H * w.W), int64(w.H * w.W), int64(w.W), 1})
	ty, errY := tensor(uidY, yd, ys)
	if err := errors.Join(errX, errW, errY); err != nil {
		release()
		return nil, nil, err
	}

	p := cv.P
	dil := func(d int) int64 { return int64(max(d, 1)) }
	conv, err := build(C.RC_CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, fmt.Sprintf("convolution %+v", p), func(d *bdesc) error {
		return errors.Join(
			d.setEnum(C.RC_CUDNN_ATTR_CONVOLUTION_COMP_TYPE, C.RC_CUDNN_TYPE_DATA_TYPE, C.RC_CUDNN_DATA_FLOAT),
			d.setEnum(C.RC_CUDNN_ATTR_CONVOLUTION_CONV_MODE, C.RC_CUDNN_TYPE_CONVOLUTION_MODE, C.RC_CUDNN_CROSS_CORRELATION),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_DILATIONS, dil(p.DilationH), dil(p.DilationW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, int64(p.StrideH), int64(p.StrideW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, int64(p.PadH), int64(p.PadW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, int64(p.PadH), int64(p.PadW)))
	})
	if err != nil {
		release()
		return nil, nil, err
	}

	// The operation: its type and the attribute names of its three tensors by direction.
	ops := [3]struct {
		kind                       C.int
		alpha, beta, desc, x, w, y C.int
	}{
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY},
	}[gk.dir]
	op, err := build(ops.kind, "convolution operation", func(d *bdesc) error {
		return errors.Join(
			d.setFloat(ops.alpha, 1),
			d.setFloat(ops.beta, 0),
			d.setDescs(ops.desc, conv),
			d.setDescs(ops.x, tx),
			d.setDescs(ops.w, tw),
			d.setDescs(ops.y, ty))
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	g, err := build(C.RC_CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph", func(d *bdesc) error {
		return errors.Join(
			d.setHandle(C.RC_CUDNN_ATTR_OPERATIONGRAPH_HANDLE, c.dnn),
			d.setDescs(C.RC_CUDNN_ATTR_OPERATIONGRAPH_OPS, op))
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	return g, release, nil
}

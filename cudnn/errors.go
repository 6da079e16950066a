//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import "fmt"

// Error is a failed call into one of the CUDA libraries. Name is the library's own name for the
// status (cuGetErrorName, cudnnGetErrorString, nvrtcGetErrorString, or cuBLAS's enum name), so an
// error reads like "cudnn: cudnnConvolutionForward: CUDNN_STATUS_BAD_PARAM (2000)".
type Error struct {
	Lib  string // "cuda", "cudnn", "cublas" or "nvrtc"
	Call string // the C function that failed
	Code int    // the raw status
	Name string // the library's name for Code
	// Detail is extra context: the NVRTC compile log, the kernel name, the shape.
	Detail string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s (%d)", e.Lib, e.Call, e.Name, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// cuErr converts a CUresult.
func cuErr(call string, r C.rc_CUresult) error {
	if r == C.RC_CUDA_SUCCESS {
		return nil
	}
	name := "CUDA_ERROR_UNKNOWN_CODE"
	var s *C.char
	if C.rc_cuGetErrorName(r, &s) == C.RC_CUDA_SUCCESS && s != nil {
		name = C.GoString(s)
	}
	return &Error{Lib: "cuda", Call: call, Code: int(r), Name: name}
}

// dnnErr converts a cudnnStatus_t.
func dnnErr(call string, s C.rc_cudnnStatus_t) error {
	if s == C.RC_CUDNN_STATUS_SUCCESS {
		return nil
	}
	name := "CUDNN_STATUS_UNKNOWN"
	if p := C.rc_cudnnGetErrorString(s); p != nil {
		name = C.GoString(p)
	}
	return &Error{Lib: "cudnn", Call: call, Code: int(s), Name: name}
}

// cublasStatusNames are cuBLAS's status names (cublas_api.h; declcheck verifies the values).
var cublasStatusNames = map[C.rc_cublasStatus_t]string{
	C.RC_CUBLAS_STATUS_NOT_INITIALIZED:  "CUBLAS_STATUS_NOT_INITIALIZED",
	C.RC_CUBLAS_STATUS_ALLOC_FAILED:     "CUBLAS_STATUS_ALLOC_FAILED",
	C.RC_CUBLAS_STATUS_INVALID_VALUE:    "CUBLAS_STATUS_INVALID_VALUE",
	C.RC_CUBLAS_STATUS_ARCH_MISMATCH:    "CUBLAS_STATUS_ARCH_MISMATCH",
	C.RC_CUBLAS_STATUS_MAPPING_ERROR:    "CUBLAS_STATUS_MAPPING_ERROR",
	C.RC_CUBLAS_STATUS_EXECUTION_FAILED: "CUBLAS_STATUS_EXECUTION_FAILED",
	C.RC_CUBLAS_STATUS_INTERNAL_ERROR:   "CUBLAS_STATUS_INTERNAL_ERROR",
	C.RC_CUBLAS_STATUS_NOT_SUPPORTED:    "CUBLAS_STATUS_NOT_SUPPORTED",
	C.RC_CUBLAS_STATUS_LICENSE_ERROR:    "CUBLAS_STATUS_LICENSE_ERROR",
}

// blasErr converts a cublasStatus_t.
func blasErr(call string, s C.rc_cublasStatus_t) error {
	if s == C.RC_CUBLAS_STATUS_SUCCESS {
		return nil
	}
	name, ok := cublasStatusNames[s]
	if !ok {
		name = "CUBLAS_STATUS_UNKNOWN"
	}
	return &Error{Lib: "cublas", Call: call, Code: int(s), Name: name}
}

// rtcErr converts an nvrtcResult.
func rtcErr(call string, r C.rc_nvrtcResult) error {
	if r == C.RC_NVRTC_SUCCESS {
		return nil
	}
	name := "NVRTC_ERROR_UNKNOWN"
	if p := C.rc_nvrtcGetErrorString(r); p != nil {
		name = C.GoString(p)
	}
	return &Error{Lib: "nvrtc", Call: call, Code: int(r), Name: name}
}

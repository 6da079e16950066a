//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"fmt"
	"sync"
)

// cuInitOnce runs cuInit once per process (the driver requires it before anything else).
var cuInitOnce = sync.OnceValue(func() error {
	if err := need(libCUDA); err != nil {
		return err
	}
	return cuErr("cuInit", C.rc_cuInit(0))
})

// Device describes a GPU.
type Device struct {
	Ordinal      int
	Name         string
	Major, Minor int   // compute capability
	TotalMemory  int64 // bytes
	SMs          int   // multiprocessors
	MaxThreads   int   // per block
}

// Arch is the compute capability as NVRTC and nvcc spell it: 90 for 9.0.
func (d Device) Arch() int { return d.Major*10 + d.Minor }

func (d Device) String() string {
	return fmt.Sprintf("%s (compute capability %d.%d, %.1f GiB, %d SMs)", d.Name, d.Major, d.Minor,
		float64(d.TotalMemory)/(1<<30), d.SMs)
}

// DeviceCount is the number of CUDA devices the driver sees.
func DeviceCount() (int, error) {
	if err := cuInitOnce(); err != nil {
		return 0, err
	}
	var n C.int
	if err := cuErr("cuDeviceGetCount", C.rc_cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// DeviceInfo describes device ordinal.
func DeviceInfo(ordinal int) (Device, error) {
	if err := cuInitOnce(); err != nil {
		return Device{}, err
	}
	var dev C.rc_CUdevice
	if err := cuErr("cuDeviceGet", C.rc_cuDeviceGet(&dev, C.int(ordinal))); err != nil {
		return Device{}, fmt.Errorf("device %d: %w", ordinal, err)
	}
	return deviceInfo(ordinal, dev)
}

func deviceInfo(ordinal int, dev C.rc_CUdevice) (Device, error) {
	d := Device{Ordinal: ordinal}
	var name [256]C.char
	if err := cuErr("cuDeviceGetName", C.rc_cuDeviceGetName(&name[0], C.int(len(name)), dev)); err != nil {
		return d, err
	}
	d.Name = C.GoString(&name[0])
	for _, a := range []struct {
		attr C.rc_CUdevice_attribute
		dst  *int
	}{
		{C.RC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &d.Major},
		{C.RC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &d.Minor},
		{C.RC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &d.SMs},
		{C.RC_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &d.MaxThreads},
	} {
		var v C.int
		if err := cuErr("cuDeviceGetAttribute", C.rc_cuDeviceGetAttribute(&v, a.attr, dev)); err != nil {
			return d, err
		}
		*a.dst = int(v)
	}
	var mem C.size_t
	if err := cuErr("cuDeviceTotalMem_v2", C.rc_cuDeviceTotalMem_v2(&mem, dev)); err != nil {
		return d, err
	}
	d.TotalMemory = int64(mem)
	return d, nil
}

// DriverVersion is the CUDA version the driver supports, as "13.0" (cuDriverGetVersion).
func DriverVersion() (string, error) {
	if err := need(libCUDA); err != nil {
		return "", err
	}
	var v C.int
	if err := cuErr("cuDriverGetVersion", C.rc_cuDriverGetVersion(&v)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10), nil
}

// CUDNNVersion is the loaded cuDNN's version, as "9.14.0" (cudnnGetVersion), and the CUDA
// runtime version it was built with, as "13.0" (cudnnGetCudartVersion).
func CUDNNVersion() (version, cudart string, err error) {
	if err := need(libCUDNN); err != nil {
		return "", "", err
	}
	v := int(C.rc_cudnnGetVersion()) // major*10000 + minor*100 + patch since cuDNN 9
	r := int(C.rc_cudnnGetCudartVersion())
	return fmt.Sprintf("%d.%d.%d", v/10000, v%10000/100, v%100), fmt.Sprintf("%d.%d", r/1000, r%1000/10), nil
}

// CUBLASVersion is the loaded cuBLAS's version, as "13.0.2" (cublasGetProperty).
func CUBLASVersion() (string, error) {
	if err := need(libCUBLAS); err != nil {
		return "", err
	}
	var v [3]C.int
	for i, p := range []C.rc_libraryPropertyType{C.RC_MAJOR_VERSION, C.RC_MINOR_VERSION, C.RC_PATCH_LEVEL} {
		if err := blasErr("cublasGetProperty", C.rc_cublasGetProperty(p, &v[i])); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]), nil
}

// NVRTCVersion is the loaded NVRTC's version, as "13.0" (nvrtcVersion).
func NVRTCVersion() (string, error) {
	if err := need(libNVRTC); err != nil {
		return "", err
	}
	var major, minor C.int
	if err := rtcErr("nvrtcVersion", C.rc_nvrtcVersion(&major, &minor)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d", major, minor), nil
}

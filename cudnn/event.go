//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"time"
	"unsafe"
)

// Event is a CUDA event: a marker in the context's stream, for timing device work.
type Event struct {
	c *Context
	e C.rc_CUevent
}

// NewEvent creates a timing event.
func (c *Context) NewEvent() (*Event, error) {
	done, err := c.bind()
	if err != nil {
		return nil, err
	}
	defer done()
	e := &Event{c: c}
	if err := cuErr("cuEventCreate", C.rc_cuEventCreate(&e.e, C.RC_CU_EVENT_DEFAULT)); err != nil {
		return nil, err
	}
	return e, nil
}

// Record queues the event on the stream: it completes when the work queued before it has.
func (e *Event) Record() error {
	if e.c.steps.mode == capturing {
		return errors.New("cudnn: an event record inside a step capture (the event could not be waited for)")
	}
	return e.c.enqueue(opEvent, []uint64{ptrWord(unsafe.Pointer(e.e))}, func() error {
		return cuErr("cuEventRecord", C.rc_cuEventRecord(e.e, e.c.stream))
	})
}

// Wait blocks until the event has completed.
func (e *Event) Wait() error {
	if err := e.c.mayWait("an event wait"); err != nil {
		return err
	}
	done, err := e.c.bind()
	if err != nil {
		return err
	}
	defer done()
	return cuErr("cuEventSynchronize", C.rc_cuEventSynchronize(e.e))
}

// Since waits for e and returns the device time between start and e (both recorded). The
// resolution is about half a microsecond.
func (e *Event) Since(start *Event) (time.Duration, error) {
	if err := e.Wait(); err != nil {
		return 0, err
	}
	done, err := e.c.bind()
	if err != nil {
		return 0, err
	}
	defer done()
	var ms C.float
	if err := cuErr("cuEventElapsedTime_v2", C.rc_cuEventElapsedTime_v2(&ms, start.e, e.e)); err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// Close destroys the event.
func (e *Event) Close() error {
	if e.e == nil {
		return nil
	}
	done, err := e.c.bind()
	if err != nil {
		return err
	}
	defer done()
	err = cuErr("cuEventDestroy_v2", C.rc_cuEventDestroy_v2(e.e))
	e.e = nil
	return err
}

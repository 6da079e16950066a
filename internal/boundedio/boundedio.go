// Package boundedio is the one way rout reads a file it is given: regular files only (a FIFO
// would block forever, a directory or a device such as /dev/zero is no data file), and never
// more bytes than the caller's limit, so no path a user or a damaged folder supplies can hang
// rout or exhaust its memory.
package boundedio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"rout/internal/membudget"
)

// ErrTooLarge is wrapped by the errors of files over their limit.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading if it is a regular file (symbolic links are followed). The open
// does not block on a FIFO: the file is opened non-blocking and checked before it is read.
func Open(path string) (*os.File, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file (%s)", kind(st.Mode()))}
	}
	return f, nil
}

// ReadFile reads the regular file at path whole, refusing one of more than limit bytes before
// reading it (and one that grows past the limit while being read).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, tooLarge(path, st.Size(), limit)
	}
	b := make([]byte, 0, st.Size()+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, tooLarge(path, int64(len(b)), limit)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Reader returns r limited to limit bytes: reading past them fails with an error wrapping
// ErrTooLarge that names what r is (where).
func Reader(r io.Reader, limit int64, where string) io.Reader {
	return &limited{r: r, left: limit, limit: limit, where: where}
}

type limited struct {
	r           io.Reader
	left, limit int64
	where       string
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a stream of exactly limit bytes from a longer one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%s: more than %s: %w", l.where, membudget.Format(l.limit), ErrTooLarge)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func tooLarge(path string, size, limit int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%s, more than the %s rout reads from such a file: %w", membudget.Format(size), membudget.Format(limit), ErrTooLarge)}
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

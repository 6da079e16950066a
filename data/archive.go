package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"rout/internal/boundedio"
)

// gunzipIfCompressed returns a reader of r's contents, decompressed when they start with the
// gzip magic bytes (whatever the file is called: users rename files, browsers unpack them).
// The returned reader verifies the gzip checksum when read to the end.
func gunzipIfCompressed(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err // "gzip: invalid header" and the like
		}
		return zr, nil
	}
	return br, nil
}

// linkError is the error for a link entry where a file is needed: its bytes are elsewhere.
func linkError(h *tar.Header) error {
	return fmt.Errorf("entry %s: a link (to %s) where a file is needed, which rout does not follow in archives: unpack the archive and give the folder, or archive with tar -h", h.Name, h.Linkname)
}

// isArchive reports whether the file at path is a tar archive, gzipped or not, by its contents.
func isArchive(path string) (bool, error) {
	f, err := boundedio.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true, nil // gzip: every gzip input rout reads as a whole file is an archive
	}
	return n >= 262 && bytes.Equal(head[257:262], []byte("ustar")), nil
}

// walkTar calls fn with every regular file, folder and link (symbolic or hard: fn decides
// whether one it needs is an error) of the tar archive (gzipped or not) at path, in the
// archive's order. Errors are prefixed with the entry they concern. After the last entry it
// reads the compressed stream to its end, so a damaged gzip trailer is reported too.
func walkTar(path string, fn func(h *tar.Header, r io.Reader) error) error {
	f, err := boundedio.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := gunzipIfCompressed(f)
	if err != nil {
		return fmt.Errorf("not a readable archive: %w", err)
	}
	tr := tar.NewReader(r)
	last := "(start of archive)"
	for entries := 0; ; entries++ {
		if entries == maxArchiveEntries {
			return fmt.Errorf("more than %d entries: rout reads no archive that large", maxArchiveEntries)
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("the archive is damaged or cut short after entry %s: %w", last, err)
		}
		last = h.Name
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		default:
			continue
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("the archive is damaged or cut short after its last entry %s: %w", last, err)
	}
	return nil
}

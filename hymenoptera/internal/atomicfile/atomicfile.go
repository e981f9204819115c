// Package atomicfile writes files so that no reader, and no crash, ever sees one half-written: the content goes to
// a temporary file in the destination's directory (so that the final rename stays on one file system, where it is
// atomic) and is renamed over the destination only once it is complete and synced.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes path on Commit, or disappears on Abort.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts writing path: it creates a hidden temporary file beside it. The directory must exist.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit syncs and closes the temporary file and renames it to the destination, replacing any file there. The
// file gets mode 0644 (CreateTemp makes it 0600). If Commit fails, the temporary file is removed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: " + f.path + " already committed or aborted")
	}
	f.done = true
	err := f.Sync()
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Abort closes and removes the temporary file, leaving the destination untouched. After Commit it does nothing,
// so `defer f.Abort()` cleans up every early return.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Write writes path with write, buffered, and commits it if write succeeds; otherwise nothing is left behind and
// any previous file at path is untouched.
func Write(path string, write func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	buf := bufio.NewWriterSize(f, 1<<20)
	if err := write(buf); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

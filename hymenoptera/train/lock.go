package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the checkpoint directory's lock: a run holds an exclusive flock on it from before its first write
// to its end. The kernel releases the lock when the process dies, however it dies, so a stale lock never blocks
// the next run; the file holds the holder's pid, for the message of the run it turns away.
const lockFile = ".lock"

// lockDir takes dir's lock (creating dir if needed) without waiting: a directory that another run holds is an
// error that names it and the other run's pid. release gives the lock back.
func lockDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: locking %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if _, convErr := strconv.Atoi(pid); convErr != nil {
				pid = "unknown"
			}
			return nil, fmt.Errorf("train: %s is in use by another run (pid %s): wait for it to finish, or use "+
				"another directory", dir, pid)
		}
		return nil, fmt.Errorf("train: locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // only informative: the flock is the lock
	}
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// CheckNotInUse fails, as TrainModel would, when another run holds the checkpoint directory dir, so that a
// program can say so before its minutes of preparation (data, weights); TrainModel takes the lock itself.
func CheckNotInUse(dir string) error {
	release, err := lockDir(dir)
	if err == nil {
		release()
	}
	return err
}

// ClearCheckpointDir empties a checkpoint directory so that a new run starts there (the notebooks do this when a
// training cell runs again without resuming). Like a run, it takes the directory's lock first: a directory in use
// by a run is an error, never emptied under it.
func ClearCheckpointDir(dir string) error {
	release, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer release()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("train: clearing %s: %w", dir, err)
		}
	}
	return nil
}

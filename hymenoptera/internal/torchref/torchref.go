// Package torchref runs the project's PyTorch reference scripts (hymenoptera/reference/*.py) with Debian's
// python3-torch, for the benchmarks that put our figures side by side with PyTorch's in one run.
//
// The interpreter is /usr/bin/python3 (HYMENOPTERA_PYTHON overrides it): the python3 first on PATH is often another
// interpreter without torch.
package torchref

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrUnavailable is returned (wrapped) when no Python with torch and torchvision can be found.
var ErrUnavailable = errors.New("PyTorch reference unavailable")

// Python returns the interpreter that runs the reference scripts.
func Python() string {
	if p := os.Getenv("HYMENOPTERA_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// Available reports whether Python() can import torch and torchvision, and if not, why.
func Available() error {
	out, err := exec.Command(Python(), "-c", "import torch, torchvision").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s cannot import torch and torchvision (%v: %s); on Debian/Ubuntu: "+
			"apt-get install python3-torch python3-torchvision", ErrUnavailable, Python(), err,
			strings.TrimSpace(string(out)))
	}
	return nil
}

// ScriptsDir returns the directory of the reference scripts in this source tree.
func ScriptsDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("torchref: cannot locate the reference scripts")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "reference")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("torchref: reference scripts not found at %s: run from a checkout of the repository", dir)
	}
	return dir, nil
}

// RunJSON runs reference script name (e.g. "bench_model.py") with args and decodes the JSON object that the script
// prints as its last line of standard output into result. The script's standard error passes through, so that its
// progress shows.
func RunJSON(result any, name string, args ...string) error {
	if err := Available(); err != nil {
		return err
	}
	dir, err := ScriptsDir()
	if err != nil {
		return err
	}
	cmd := exec.Command(Python(), append([]string{filepath.Join(dir, name)}, args...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("torchref: %s %s failed: %w", name, strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), result); err != nil {
		return fmt.Errorf("torchref: %s printed %q, not a JSON object: %w", name, last, err)
	}
	return nil
}

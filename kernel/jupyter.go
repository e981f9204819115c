package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

// jupyter is a Python interpreter with Jupyter's nbconvert, nbclient and jupyter_client.
type jupyter struct {
	Python   string
	Versions map[string]string // module → version
}

// pythonCandidates are tried in order: the first python3 on PATH (a virtual environment's, in the Docker image),
// then the system's, which Debian's python3-nbconvert installs into.
var pythonCandidates = []string{"python3", "/usr/bin/python3"}

// jupyterModules are the Python modules run needs.
var jupyterModules = []string{"nbconvert", "nbclient", "nbformat", "jupyter_client"}

// jupyterAptPackages are Debian's packages that provide jupyterModules and a Jupyter front-end.
var jupyterAptPackages = []string{"jupyter-notebook", "python3-nbconvert"}

// browserAptPackages provide the headless browser that screenshots HTML exports, and the Korean font that its
// Hangul check needs (nbcheck.CheckKoreanFont).
var browserAptPackages = []string{"chromium", "fonts-noto-cjk"}

var errNoJupyter = errors.New("no python3 with Jupyter's nbconvert, nbclient and jupyter_client")

// findJupyter returns the first of pythonCandidates that imports jupyterModules.
func findJupyter() (*jupyter, error) {
	probe := "import json, importlib\nprint(json.dumps({m: getattr(importlib.import_module(m), '__version__', '?') for m in " +
		pyList(jupyterModules) + "}))"
	seen := map[string]bool{}
	for _, candidate := range pythonCandidates {
		path, err := exec.LookPath(candidate)
		if err != nil || seen[path] {
			continue
		}
		seen[path] = true
		out, err := pythonCommand(path, "-c", probe).Output()
		if err != nil {
			continue
		}
		var versions map[string]string
		if json.Unmarshal(out, &versions) == nil {
			return &jupyter{Python: path, Versions: versions}, nil
		}
	}
	return nil, errNoJupyter
}

// pythonCommand runs Python with the environment the kernel tool gives it: the caller's, with the debugger's
// frozen-modules warning (printed by Debian's Python 3.11 whenever debugpy loads) silenced.
func pythonCommand(python string, args ...string) *exec.Cmd {
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "PYDEVD_DISABLE_FILE_VALIDATION=1")
	return cmd
}

// kernelSpecDirs asks Jupyter which kernelspecs it sees (name → directory), with extra environment variables
// (e.g. JUPYTER_PATH).
func (j *jupyter) kernelSpecDirs(env []string) (map[string]string, error) {
	cmd := pythonCommand(j.Python, "-m", "jupyter_client.kernelspecapp", "list", "--json")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Jupyter kernelspecs: %w\n%s", err, stderr.String())
	}
	var listing struct {
		KernelSpecs map[string]struct {
			ResourceDir string `json:"resource_dir"`
		} `json:"kernelspecs"`
	}
	if err := json.Unmarshal(out, &listing); err != nil {
		return nil, fmt.Errorf("cannot read Jupyter's kernelspec list: %w", err)
	}
	dirs := map[string]string{}
	for name, spec := range listing.KernelSpecs {
		dirs[name] = spec.ResourceDir
	}
	return dirs, nil
}

// ensureJupyter finds Jupyter, installing Debian's packages first when it is missing and that is possible.
func ensureJupyter(log io.Writer) (*jupyter, error) {
	j, err := findJupyter()
	if err == nil {
		return j, nil
	}
	if err := aptInstall("Jupyter's nbconvert", jupyterAptPackages, log); err != nil {
		return nil, err
	}
	return findJupyter()
}

// ensureBrowser finds headless Chromium and a Korean font, installing Debian's packages first when one is missing and
// possible.
func ensureBrowser(find func() (string, error), log io.Writer) (string, error) {
	path, err := find()
	if err == nil {
		err = nbcheck.CheckKoreanFont(context.Background())
	}
	if err == nil {
		return path, nil
	}
	if err := aptInstall("Chromium or a Korean font (for screenshots)", browserAptPackages, log); err != nil {
		return "", err
	}
	return find()
}

// aptInstall installs Debian packages with apt-get when running as root on a Debian-like system; otherwise it
// fails with the exact command that would.
func aptInstall(what string, packages []string, log io.Writer) error {
	install := append([]string{"install", "-y", "--no-install-recommends"}, packages...)
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s is missing and this system has no apt-get: install the equivalent of Debian's %s",
			what, strings.Join(packages, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is missing; install it with:\n  sudo apt-get update && sudo apt-get %s",
			what, strings.Join(install, " "))
	}
	fmt.Fprintf(log, "%s is missing: installing %s with apt-get\n", what, strings.Join(packages, " "))
	for _, args := range [][]string{{"update"}, install} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// pyList renders strings as a Python list literal.
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, item := range items {
		quoted[i] = fmt.Sprintf("%q", item)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

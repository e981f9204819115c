package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modulePath is this repository's module: the kernel serves notebooks that import it.
const modulePath = "github.com/hymenoptera-go/tutorial"

// repo is the checkout the kernel tool runs in.
type repo struct {
	Root        string // directory of go.mod
	GoModSHA256 string // hex SHA-256 of go.mod: the pins a kernelspec was installed from
	GoVersion   string // go.mod's go line, e.g. "1.26.5"
	Toolchain   string // go.mod's toolchain line ("" when absent), e.g. "go1.26.8"
}

// goModJSON is the output of `go mod edit -json`, the go command's own parse of go.mod.
type goModJSON struct {
	Module    struct{ Path string }
	Go        string
	Toolchain string
}

// findRepo walks up from the working directory to the go.mod of this module.
func findRepo() (*repo, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		goMod := filepath.Join(dir, "go.mod")
		if data, err := os.ReadFile(goMod); err == nil {
			mod, err := parseGoMod(goMod)
			if err != nil {
				return nil, err
			}
			if mod.Module.Path != modulePath {
				return nil, fmt.Errorf("%s is module %q, not %s: run the kernel tool inside this repository",
					goMod, mod.Module.Path, modulePath)
			}
			sum := sha256.Sum256(data)
			return &repo{Root: dir, GoModSHA256: hex.EncodeToString(sum[:]), GoVersion: mod.Go,
				Toolchain: mod.Toolchain}, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("no go.mod above the working directory: run the kernel tool inside this repository")
		}
		dir = parent
	}
}

func parseGoMod(path string) (*goModJSON, error) {
	out, err := goOutput(filepath.Dir(path), nil, "mod", "edit", "-json", path)
	if err != nil {
		return nil, err
	}
	var mod goModJSON
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("%s: cannot read `go mod edit -json` output: %w", path, err)
	}
	return &mod, nil
}

// goCommand is the go command found on PATH.
type goCommand struct {
	Path    string // absolute path of the go binary
	Version string // e.g. "go1.26.8"
}

// findGo locates go on PATH and asks it for its version.
func findGo() (*goCommand, error) {
	path, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is not on PATH: install Go (see go.mod for the version)")
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	out, err := exec.Command(path, "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("%s env GOVERSION: %w", path, err)
	}
	return &goCommand{Path: path, Version: strings.TrimSpace(string(out))}, nil
}

// checkGoVersion fails when g is older than what go.mod asks for (the toolchain line if any, else the go line):
// the kernel builds every cell with it, and must not depend on downloading a toolchain.
func (r *repo) checkGoVersion(g *goCommand) error {
	want := r.RequiredGo()
	if version.Compare(g.Version, want) < 0 {
		return fmt.Errorf("%s is %s but go.mod needs %s or newer", g.Path, g.Version, want)
	}
	return nil
}

// RequiredGo is the Go release go.mod asks for, as "go1.X.Y".
func (r *repo) RequiredGo() string {
	if r.Toolchain != "" {
		return r.Toolchain
	}
	return "go" + r.GoVersion
}

// goOutput runs the go command in dir with extra environment variables and returns its standard output; on
// failure the error carries its standard error.
func goOutput(dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// listedModule is one line of `go list -m -json`.
type listedModule struct {
	Path    string
	Version string
	Main    bool
	Dir     string
	Replace *listedModule
}

// listModules runs `go list -m -json args...` in the Go module at dir.
func listModules(dir string, args ...string) ([]listedModule, error) {
	out, err := goOutput(dir, nil, append([]string{"list", "-m", "-json"}, args...)...)
	if err != nil {
		return nil, err
	}
	var modules []listedModule
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m listedModule
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("cannot read `go list -m -json` output: %w", err)
		}
		modules = append(modules, m)
	}
	return modules, nil
}

// moduleVersion returns the version of module path that the build list of the Go module at dir selects.
func moduleVersion(dir, path string) (string, error) {
	mods, err := listModules(dir, path)
	if err != nil {
		return "", err
	}
	if len(mods) != 1 || mods[0].Version == "" {
		return "", fmt.Errorf("%s does not pin %s", filepath.Join(dir, "go.mod"), path)
	}
	return mods[0].Version, nil
}

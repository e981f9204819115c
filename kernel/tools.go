package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// tool is one program the kernel needs, pinned by go.mod's tool directives.
type tool struct {
	Name    string // binary name
	Package string // main package
	Module  string // module whose version go.mod pins
	// OwnGraph builds the tool with its own module's requirements (go install pkg@version) instead of this
	// repository's. gopls needs it: it imports golang.org/x/tools internals that must match its own go.mod
	// exactly, and this repository's goimports pin selects a newer golang.org/x/tools, with which gopls v0.23.0
	// does not compile (`go tool gopls` fails with "undefined: astutil.UnparenEnclosingCursor"). Its version
	// still comes from go.mod.
	OwnGraph bool
}

// kernelTools are the programs GoNB runs: itself, goimports (adds imports to every cell) and gopls (completion
// and inspection in the notebook).
var kernelTools = []tool{
	{Name: "gonb", Package: "github.com/janpfeifer/gonb", Module: "github.com/janpfeifer/gonb"},
	{Name: "goimports", Package: "golang.org/x/tools/cmd/goimports", Module: "golang.org/x/tools"},
	{Name: "gopls", Package: "golang.org/x/tools/gopls", Module: "golang.org/x/tools/gopls", OwnGraph: true},
}

// buildTools builds every kernel tool at its pinned version into binDir, replacing older binaries. Builds go to
// a staging directory first, so that a failed build leaves the previous tools in place. The go build cache makes
// a repeated install quick.
func (r *repo) buildTools(binDir string, log io.Writer) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(binDir, ".staging-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	for _, t := range kernelTools {
		version, err := r.moduleVersion(t.Module)
		if err != nil {
			return err
		}
		var cmd *exec.Cmd
		if t.OwnGraph {
			cmd = exec.Command("go", "install", t.Package+"@"+version)
			cmd.Env = append(os.Environ(), "GOBIN="+staging)
		} else {
			cmd = exec.Command("go", "build", "-o", filepath.Join(staging, t.Name), t.Package)
		}
		cmd.Dir = r.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s %s: %s: %w\n%s", t.Name, version, cmd, err, out)
		}
		dest := filepath.Join(binDir, t.Name)
		if err := os.Rename(filepath.Join(staging, t.Name), dest); err != nil {
			return err
		}
		fmt.Fprintf(log, "built %s %s → %s\n", t.Name, version, dest)
	}
	return nil
}

// builtVersion reports the module and version a Go binary was built from (its main module).
func builtVersion(path string) (module, version string, err error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	return info.Main.Path, info.Main.Version, nil
}

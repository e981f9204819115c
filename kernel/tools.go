package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// tool is one program the kernel needs, pinned by the go.mod of the module it is built in.
type tool struct {
	Name    string // binary name
	Package string // main package
	Module  string // module whose version is pinned
	// ModuleDir is the Go module the tool is built in, relative to the repository root ("": the repository's
	// own): its go.mod pins the tool's version and dependencies, its go.sum their hashes, so that the build is
	// verified without a checksum database. gopls has a module of its own, kernel/gopls (see its go.mod).
	ModuleDir string
}

// kernelTools are the programs GoNB runs: itself, goimports (adds imports to every cell) and gopls (completion
// and inspection in the notebook).
var kernelTools = []tool{
	{Name: "gonb", Package: "github.com/janpfeifer/gonb", Module: "github.com/janpfeifer/gonb"},
	{Name: "goimports", Package: "golang.org/x/tools/cmd/goimports", Module: "golang.org/x/tools"},
	{Name: "gopls", Package: "golang.org/x/tools/gopls", Module: "golang.org/x/tools/gopls", ModuleDir: "kernel/gopls"},
}

// toolModuleDir is the directory of the Go module t is built in.
func (r *repo) toolModuleDir(t tool) string {
	return filepath.Join(r.Root, filepath.FromSlash(t.ModuleDir))
}

// toolVersion is the version of t that its module pins.
func (r *repo) toolVersion(t tool) (string, error) {
	return moduleVersion(r.toolModuleDir(t), t.Module)
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
		version, err := r.toolVersion(t)
		if err != nil {
			return err
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(staging, t.Name), t.Package)
		cmd.Dir = r.toolModuleDir(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s %s in %s: %s: %w\n%s", t.Name, version, cmd.Dir, cmd, err, out)
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/kernel/kernelspec"
	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

// report collects doctor's findings; a missing requirement makes doctor fail.
type report struct {
	out    io.Writer
	failed []string
}

func (r *report) ok(item, format string, args ...any) { r.line("ok", item, format, args...) }

func (r *report) info(item, format string, args ...any) { r.line("info", item, format, args...) }

func (r *report) warn(item, format string, args ...any) { r.line("warn", item, format, args...) }

// missing records a requirement that is absent or broken.
func (r *report) missing(item, format string, args ...any) {
	r.failed = append(r.failed, item)
	r.line("MISSING", item, format, args...)
}

func (r *report) line(status, item, format string, args ...any) {
	text := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n"+strings.Repeat(" ", 22))
	fmt.Fprintf(r.out, "%-7s %-13s %s\n", status, item, text)
}

func runDoctor(args []string, stdout io.Writer) error {
	fs := newFlagSet("doctor", "[--prefix DIR | --user] [--name NAME]")
	target := addTargetFlags(fs)
	if err := parseNoArguments(fs, args); err != nil {
		return err
	}
	layout, r, err := target.resolve()
	if err != nil {
		return err
	}
	rep := &report{out: stdout}
	g := doctorGo(rep, r)
	j := doctorJupyter(rep)
	binDir := doctorKernelspec(rep, j, target.jupyterEnv(layout), r, g, layout, *target.name)
	doctorTools(rep, r, binDir)
	doctorBackend(rep)
	doctorKernels(rep)
	if browser, err := nbcheck.FindBrowser(); err == nil {
		rep.ok("chromium", "%s (for run --check screenshots)", browser)
	} else {
		rep.warn("chromium", "not found: run --check installs Debian's %s when it can", strings.Join(browserAptPackages, " "))
	}
	if err := nbcheck.CheckKoreanFont(context.Background()); err == nil {
		rep.ok("korean font", "fontconfig lists one (run --check needs it for the Korean notebook)")
	} else {
		rep.warn("korean font", "%v", err)
	}
	if len(rep.failed) > 0 {
		return fmt.Errorf("missing or broken: %s", strings.Join(rep.failed, ", "))
	}
	return nil
}

func doctorGo(rep *report, r *repo) *goCommand {
	g, err := findGo()
	if err != nil {
		rep.missing("go", "%v", err)
		return nil
	}
	if err := r.checkGoVersion(g); err != nil {
		rep.missing("go", "%v", err)
	} else {
		rep.ok("go", "%s (%s); go.mod needs %s", g.Version, g.Path, r.RequiredGo())
	}
	experiment, _ := goOutput(r.Root, nil, "env", "GOEXPERIMENT")
	if hasExperiment(strings.TrimSpace(string(experiment)), kernelspec.GoExperiment) {
		rep.ok("GOEXPERIMENT", "%s", strings.TrimSpace(string(experiment)))
	} else {
		rep.warn("GOEXPERIMENT", "%q here: the kernel compiles notebooks with %s, but export GOEXPERIMENT=%s for "+
			"go test and go run too", strings.TrimSpace(string(experiment)), kernelspec.GoExperiment, kernelspec.GoExperiment)
	}
	return g
}

func hasExperiment(list, experiment string) bool {
	for _, e := range strings.Split(list, ",") {
		if e == experiment {
			return true
		}
	}
	return false
}

func doctorJupyter(rep *report) *jupyter {
	j, err := findJupyter()
	if err != nil {
		rep.missing("jupyter", "%v (tried %s): install Debian's %s", err, strings.Join(pythonCandidates, ", "),
			strings.Join(jupyterAptPackages, " "))
		return nil
	}
	var versions []string
	for _, m := range jupyterModules {
		versions = append(versions, m+" "+j.Versions[m])
	}
	rep.ok("jupyter", "%s: %s", j.Python, strings.Join(versions, ", "))
	return j
}

// doctorKernelspec reports the kernelspec and returns the directory its tools are in.
func doctorKernelspec(rep *report, j *jupyter, env []string, r *repo, g *goCommand, layout kernelspec.Layout, name string) string {
	if g == nil {
		return layout.BinDir()
	}
	dir, reasons, err := currentSpec(j, env, r, g, layout, name)
	if err != nil {
		rep.missing("kernelspec", "%v", err)
		return layout.BinDir()
	}
	if len(reasons) > 0 {
		rep.missing("kernelspec", "%q in %s: %s\n(`go run ./kernel install` installs it)", name, dir,
			strings.Join(reasons, "; "))
		return layout.BinDir()
	}
	spec, err := kernelspec.Read(dir)
	if err != nil {
		rep.missing("kernelspec", "%v", err)
		return layout.BinDir()
	}
	rep.ok("kernelspec", "%q (%s) in %s\nGoNB --go_work=%s; GOEXPERIMENT=%s; GOPROXY=%s\nGOSUMDB=%s", name,
		spec.DisplayName, dir, spec.GoWork(), spec.Env["GOEXPERIMENT"], spec.Env["GOPROXY"], spec.Env["GOSUMDB"])
	return filepath.Dir(spec.Argv[0])
}

func doctorTools(rep *report, r *repo, binDir string) {
	for _, t := range kernelTools {
		pinned, err := r.toolVersion(t)
		if err != nil {
			rep.missing(t.Name, "%v", err)
			continue
		}
		path := filepath.Join(binDir, t.Name)
		module, version, err := builtVersion(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			rep.missing(t.Name, "%s not built (pinned: %s %s; `go run ./kernel install` builds it)", path, t.Module,
				pinned)
		case err != nil:
			rep.missing(t.Name, "%s: %v", path, err)
		case module != t.Module || version != pinned:
			rep.missing(t.Name, "%s is %s %s, but %s pins %s %s (`go run ./kernel install` rebuilds it)", path,
				module, version, filepath.Join(r.toolModuleDir(t), "go.mod"), t.Module, pinned)
		default:
			rep.ok(t.Name, "%s %s (%s)", module, version, path)
		}
	}
}

// doctorBackend reports the GoMLX backend notebooks get, as hymenoptera/backends chooses it, and the PJRT plugins
// on go-xla's search path.
func doctorBackend(rep *report) {
	home, _ := os.UserHomeDir()
	paths := pjrtSearchPaths(os.LookupEnv, home, "/etc/ld.so.conf")
	files := findPJRTFiles(paths)
	if _, set := os.LookupEnv(pjrtPathsEnv); set {
		rep.info("pjrt path", "%s=%s", pjrtPathsEnv, os.Getenv(pjrtPathsEnv))
	}
	choice, accepted, err := probeBackend()
	if err != nil {
		var names []string
		for _, f := range files {
			names = append(names, f.Path)
		}
		rep.missing("backend", "%v\nplugin files on go-xla's path: %s", err, strings.Join(names, ", "))
		return
	}
	rep.info("backend", "%s: %s", choice.Config, choice.Reason)
	if len(files) == 0 {
		rep.info("pjrt", "no XLA PJRT plugin in %s\n(`go run ./kernel pjrt` installs the CPU one; without it the "+
			"pure-Go backend runs)", strings.Join(paths, ", "))
		return
	}
	sort.SliceStable(files, func(a, b int) bool { return files[a].Name < files[b].Name })
	for _, f := range files {
		if accepted[f.Path] {
			rep.info("pjrt", "%s: %s", f.Name, f.Path)
		} else {
			rep.info("pjrt", "%s: %s (go-xla does not load it here: a CUDA plugin without an NVIDIA device, "+
				"a duplicate name, or a library that fails to load)", f.Name, f.Path)
		}
	}
}

// doctorKernels reports the CPU and the matrix-multiplication kernels that the pure-Go backend uses on it, as
// notebooks get them (the kernelspec builds with GOEXPERIMENT=simd, as this binary should be), and warns when
// there are none: the pure-Go backend is then about ten times slower, and XLA is the way out.
func doctorKernels(rep *report) {
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		rep.missing("kernels", "%v", err)
		return
	}
	defer backend.Finalize()
	k := backends.DescribeKernels(backend, backends.GoBackend)
	rep.info("cpu", "%s (%s: %s)", k.CPU, k.Arch, strings.Join(k.SIMD, " "))
	if len(k.Switches) > 0 {
		rep.info("kernels", "pure-Go matrix multiplication: %s (%s)", k.Matmul, strings.Join(k.Switches, ", "))
	} else {
		rep.info("kernels", "pure-Go matrix multiplication: %s", k.Matmul)
	}
	if warning := k.Warning(); warning != "" {
		rep.warn("kernels", "%s", strings.TrimPrefix(warning, "warning: "))
	}
}

// probeBackend asks hymenoptera/backends which backend runs and which plugin files go-xla accepts. go-xla v0.4.5
// panics (a nil dereference in pjrt.checkPlugin) when a plugin file on its path fails to load; doctor exists to
// diagnose exactly that, so it reports the panic instead of crashing.
func probeBackend() (choice backends.Choice, accepted map[string]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-xla panicked while probing PJRT plugins (%v): a plugin file fails to load; "+
				"check it with ldd, or remove it", r)
		}
	}()
	choice = backends.Choose()
	accepted = map[string]bool{}
	for _, path := range backends.InstalledPlugins() {
		accepted[path] = true
	}
	return choice, accepted, nil
}

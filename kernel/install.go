package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hymenoptera-go/tutorial/kernel/internal/pinproxy"
	"github.com/hymenoptera-go/tutorial/kernel/kernelspec"
)

// targetFlags choose where the kernel is (or gets) installed; install, run and doctor share them.
type targetFlags struct {
	prefix *string
	user   *bool
	name   *string
}

func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	return &targetFlags{
		prefix: fs.String("prefix", "", "install under `DIR`/share/jupyter and DIR/share/hymenoptera (e.g. /usr/local) "+
			"instead of the user's directories"),
		user: fs.Bool("user", false, "install in the user's Jupyter and data directories (the default)"),
		name: fs.String("name", kernelspec.DefaultName, "kernelspec `NAME`"),
	}
}

// resolve returns the kernelspec layout the flags chose and the repository the kernel serves.
func (t *targetFlags) resolve() (kernelspec.Layout, *repo, error) {
	layout, err := t.layout()
	if err != nil {
		return layout, nil, err
	}
	r, err := findRepo()
	return layout, r, err
}

// parseNoArguments parses a command line that takes flags only.
func parseNoArguments(fs *flag.FlagSet, args []string) error {
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, positional)
	}
	return nil
}

func (t *targetFlags) layout() (kernelspec.Layout, error) {
	if *t.prefix != "" && *t.user {
		return kernelspec.Layout{}, fmt.Errorf("%w: --prefix and --user exclude each other", errUsage)
	}
	if *t.prefix != "" {
		return kernelspec.PrefixLayout(*t.prefix)
	}
	return kernelspec.UserLayout()
}

// jupyterEnv is the environment that lets Jupyter find a kernelspec installed under --prefix, which may be outside
// its search path.
func (t *targetFlags) jupyterEnv(layout kernelspec.Layout) []string {
	if *t.prefix == "" {
		return nil
	}
	path := layout.JupyterDataDir
	if existing := os.Getenv("JUPYTER_PATH"); existing != "" {
		path += string(os.PathListSeparator) + existing
	}
	return []string{"JUPYTER_PATH=" + path}
}

func runInstall(args []string, stdout io.Writer) error {
	fs := newFlagSet("install", "[--prefix DIR | --user] [--name NAME]")
	target := addTargetFlags(fs)
	if err := parseNoArguments(fs, args); err != nil {
		return err
	}
	layout, r, err := target.resolve()
	if err != nil {
		return err
	}
	g, err := findGo()
	if err != nil {
		return err
	}
	if _, err := installKernel(r, g, layout, *target.name, stdout); err != nil {
		return err
	}
	reportVisibility(*target.name, target.jupyterEnv(layout), layout, stdout)
	return nil
}

// installKernel builds the tools, writes the pinned module proxy and the kernelspec. Running it again redoes all
// of it, cheaply thanks to Go's caches, so it is also how a stale installation is repaired.
func installKernel(r *repo, g *goCommand, layout kernelspec.Layout, name string, log io.Writer) (kernelspec.Spec, error) {
	if err := r.checkGoVersion(g); err != nil {
		return kernelspec.Spec{}, err
	}
	fmt.Fprintf(log, "installing kernel %q for %s with %s (%s)\n", name, r.Root, g.Version, g.Path)
	// The kernel resolves modules offline, from the module cache: fill it with everything go.mod pins.
	if _, err := goOutput(r.Root, nil, "mod", "download"); err != nil {
		return kernelspec.Spec{}, err
	}
	if err := r.buildTools(layout.BinDir(), log); err != nil {
		return kernelspec.Spec{}, err
	}
	sumDB, err := r.writeProxy(layout.ProxyDir(), log)
	if err != nil {
		return kernelspec.Spec{}, err
	}
	params := specParams(r, g, layout)
	params.GOSUMDB = sumDB.GOSUMDB()
	spec, err := kernelspec.New(params)
	if err != nil {
		return kernelspec.Spec{}, err
	}
	dir := layout.KernelDir(name)
	if err := spec.Write(dir, r.gonbLogo()); err != nil {
		return kernelspec.Spec{}, fmt.Errorf("writing the kernelspec to %s: %w", dir, err)
	}
	fmt.Fprintf(log, "installed kernelspec %q (%s) → %s\n", name, spec.DisplayName, dir)
	return spec, nil
}

// specParams are the kernelspec parameters for an installation of r with g into layout.
func specParams(r *repo, g *goCommand, layout kernelspec.Layout) kernelspec.Params {
	return kernelspec.Params{
		RepoRoot:    r.Root,
		BinDir:      layout.BinDir(),
		GoBinDir:    filepath.Dir(g.Path),
		ProxyDir:    layout.ProxyDir(),
		GoModSHA256: r.GoModSHA256,
	}
}

// writeProxy writes the pinned module proxy for the repository's whole build list, with the checksum database of
// the repository's go.sum.
func (r *repo) writeProxy(dir string, log io.Writer) (pinproxy.SumDB, error) {
	modules, err := listModules(r.Root, "all")
	if err != nil {
		return pinproxy.SumDB{}, err
	}
	var pins []pinproxy.Module
	for _, m := range modules {
		// A replaced module comes from elsewhere (a directory, another path): the proxy cannot serve it, and
		// `go get` would not find it through a proxy either.
		if m.Main || m.Version == "" || m.Replace != nil {
			continue
		}
		pins = append(pins, pinproxy.Module{Path: m.Path, Version: m.Version})
	}
	sums, err := pinproxy.ParseGoSum(filepath.Join(r.Root, "go.sum"))
	if err != nil {
		return pinproxy.SumDB{}, err
	}
	modCache, err := goOutput(r.Root, nil, "env", "GOMODCACHE")
	if err != nil {
		return pinproxy.SumDB{}, err
	}
	cacheDownload := filepath.Join(strings.TrimSpace(string(modCache)), "cache", "download")
	db, err := pinproxy.Write(dir, pins, sums, cacheDownload)
	if err != nil {
		return db, fmt.Errorf("writing the pinned module proxy %s: %w", dir, err)
	}
	fmt.Fprintf(log, "pinned %d module versions → %s (checksum database %s: %d go.sum lines)\n", len(pins), dir,
		db.Name, len(sums))
	return db, nil
}

// gonbLogo returns GoNB's gopher logo from the module cache, for Jupyter's launcher (nil if unavailable: the
// logo is decoration).
func (r *repo) gonbLogo() []byte {
	mods, err := listModules(r.Root, "github.com/janpfeifer/gonb")
	if err != nil || len(mods) != 1 || mods[0].Dir == "" {
		return nil
	}
	logo, err := os.ReadFile(filepath.Join(mods[0].Dir, "internal", "kernel", "Go_gopher_favicon.svg"))
	if err != nil {
		return nil
	}
	return logo
}

// reportVisibility tells whether Jupyter finds the kernelspec, and how to make it find one under --prefix.
func reportVisibility(name string, env []string, layout kernelspec.Layout, log io.Writer) {
	j, err := findJupyter()
	if err != nil {
		fmt.Fprintf(log, "note: %v; `run` installs Debian's %s when it can\n", err, strings.Join(jupyterAptPackages, " "))
		return
	}
	dirs, err := j.kernelSpecDirs(env)
	if err != nil {
		fmt.Fprintf(log, "note: %v\n", err)
		return
	}
	if dir, ok := dirs[name]; ok && sameDir(dir, layout.KernelDir(name)) {
		fmt.Fprintf(log, "Jupyter (%s) lists kernel %q\n", j.Python, name)
		return
	}
	if dir, ok := dirs[name]; ok {
		fmt.Fprintf(log, "note: Jupyter picks another %q kernelspec first: %s\n", name, dir)
		return
	}
	fmt.Fprintf(log, "note: Jupyter does not search %s; set JUPYTER_PATH=%s for it (run --prefix does)\n",
		layout.JupyterDataDir, layout.JupyterDataDir)
}

// sameDir compares directories after resolving symbolic links.
func sameDir(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

// currentSpec reads the installed kernelspec name from the directory Jupyter uses (or, without Jupyter, the
// layout's) and says why it needs reinstalling (nil reasons: it is current).
func currentSpec(j *jupyter, env []string, r *repo, g *goCommand, layout kernelspec.Layout, name string) (string, []string, error) {
	dir := layout.KernelDir(name)
	if j != nil {
		dirs, err := j.kernelSpecDirs(env)
		if err != nil {
			return "", nil, err
		}
		found, ok := dirs[name]
		if !ok {
			return dir, []string{"Jupyter has no kernelspec named " + name}, nil
		}
		dir = found
	}
	spec, err := kernelspec.Read(dir)
	if errors.Is(err, kernelspec.ErrNotInstalled) {
		return dir, []string{"it is not installed"}, nil
	}
	if err != nil {
		return dir, nil, err
	}
	return dir, spec.StaleReasons(specParams(r, g, layout)), nil
}

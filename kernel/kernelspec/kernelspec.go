// Package kernelspec builds, writes and reads the Jupyter kernelspec of the project's GoNB kernel.
//
// The kernelspec is what makes notebooks work without a set-up cell:
//
//   - argv runs the GoNB binary built from this repository's pins with --go_work=<repository root>: GoNB then
//     starts every notebook's Go module inside a go.work that uses the repository, so that
//     `import "github.com/hymenoptera-go/tutorial/..."` compiles against the working tree;
//   - env puts those tools (gonb, goimports, gopls) and the go command first on PATH, sets GOEXPERIMENT=simd
//     (GoNB compiles every cell; the pure-Go backend's matrix multiplication needs it), and points GOPROXY at a
//     local proxy that serves only the module versions this repository pins. GoNB runs `go get` in the notebook's
//     module, and `go get` ignores go.work: without that proxy it would look up, and pick, the latest GoNB or
//     GoMLX instead of the pinned ones, and fail offline. GOSUMDB names the checksum database that comes with the
//     proxy, holding exactly the repository's go.sum hashes: that `go get` verifies every module it adds to the
//     notebook module's (empty) go.sum, and the public checksum database may be unreachable.
//
// Jupyter merges env into the server's environment (expanding ${VAR}), so everything else, HYMENOPTERA_* and
// GOMLX_BACKEND included, reaches the kernel unchanged.
package kernelspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// DefaultName is the kernelspec's directory name, which notebooks record in metadata.kernelspec.name.
	DefaultName = "gonb-hymenoptera"
	// DefaultDisplayName is what Jupyter's launcher and kernel picker show.
	DefaultDisplayName = "Go (GoNB) – Hymenoptera transfer learning"
	// GoExperiment is the GOEXPERIMENT every notebook cell is compiled with.
	GoExperiment = "simd"

	goWorkFlag = "--go_work="
)

// Layout says where an installation puts its files.
type Layout struct {
	// JupyterDataDir is a Jupyter data directory: the kernelspec goes to JupyterDataDir/kernels/<name>.
	JupyterDataDir string
	// ToolsDir holds the project's private files: bin/ (gonb, goimports, gopls) and goproxy/ (the pinned
	// module proxy). They are kept out of the user's PATH so that they never shadow other installations.
	ToolsDir string
}

// UserLayout is the per-user installation: Jupyter's user data directory ($JUPYTER_DATA_DIR, else
// $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter) and $XDG_DATA_HOME/hymenoptera.
func UserLayout() (Layout, error) {
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Layout{}, fmt.Errorf("cannot find the user's data directory: %w", err)
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	jupyter := os.Getenv("JUPYTER_DATA_DIR")
	if jupyter == "" {
		jupyter = filepath.Join(dataHome, "jupyter")
	}
	return Layout{JupyterDataDir: jupyter, ToolsDir: filepath.Join(dataHome, "hymenoptera")}, nil
}

// PrefixLayout installs under prefix, the way `jupyter kernelspec install --prefix` does: prefix/share/jupyter
// and prefix/share/hymenoptera. Jupyter finds it by itself for /usr/local and sys.prefix; for other prefixes add
// prefix/share/jupyter to JUPYTER_PATH.
func PrefixLayout(prefix string) (Layout, error) {
	abs, err := filepath.Abs(prefix)
	if err != nil {
		return Layout{}, err
	}
	return Layout{
		JupyterDataDir: filepath.Join(abs, "share", "jupyter"),
		ToolsDir:       filepath.Join(abs, "share", "hymenoptera"),
	}, nil
}

// KernelDir is the kernelspec directory of kernel name.
func (l Layout) KernelDir(name string) string {
	return filepath.Join(l.JupyterDataDir, "kernels", name)
}

// BinDir holds gonb, goimports and gopls.
func (l Layout) BinDir() string { return filepath.Join(l.ToolsDir, "bin") }

// ProxyDir holds the module proxy that serves the pinned versions.
func (l Layout) ProxyDir() string { return filepath.Join(l.ToolsDir, "goproxy") }

// Spec is Jupyter's kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env"`
	Metadata      Metadata          `json:"metadata"`
}

// Metadata is the kernelspec's free-form metadata; Jupyter ignores the keys it does not know.
type Metadata struct {
	Hymenoptera Provenance `json:"hymenoptera"`
}

// Provenance records what the installation was made from, so that a later run can tell a stale kernelspec (another
// checkout, changed pins) from a current one.
type Provenance struct {
	RepoRoot    string `json:"repo_root"`
	GoModSHA256 string `json:"go_mod_sha256"`
}

// Params are the inputs of New.
type Params struct {
	DisplayName string
	RepoRoot    string // the module root notebooks import from (GoNB's --go_work)
	BinDir      string // where gonb, goimports and gopls are
	GoBinDir    string // the directory of the go command the tools were built with
	ProxyDir    string // the pinned module proxy
	GOSUMDB     string // the checksum database of the pins, as GOSUMDB spells it ("name+hash+key file:///...")
	GoModSHA256 string // hex SHA-256 of the repository's go.mod
}

// New builds the kernelspec. All paths must be absolute: Jupyter starts kernels from the notebook's directory.
func New(p Params) (Spec, error) {
	for _, path := range []struct{ what, value string }{
		{"repository root", p.RepoRoot}, {"tools directory", p.BinDir},
		{"go directory", p.GoBinDir}, {"module proxy directory", p.ProxyDir},
	} {
		if !filepath.IsAbs(path.value) {
			return Spec{}, fmt.Errorf("kernelspec: the %s %q is not an absolute path", path.what, path.value)
		}
	}
	// GoNB splits --go_work on commas; PATH and GOPROXY use ':' and ',' as separators.
	if strings.Contains(p.RepoRoot, ",") {
		return Spec{}, fmt.Errorf("kernelspec: GoNB cannot use a repository root containing a comma: %q", p.RepoRoot)
	}
	for _, dir := range []string{p.BinDir, p.GoBinDir} {
		if strings.Contains(dir, string(os.PathListSeparator)) {
			return Spec{}, fmt.Errorf("kernelspec: %q cannot go on PATH: it contains %q", dir, os.PathListSeparator)
		}
	}
	if strings.ContainsAny(p.ProxyDir, ",| ") {
		return Spec{}, fmt.Errorf("kernelspec: the module proxy directory %q cannot go in GOPROXY", p.ProxyDir)
	}
	if _, err := sumDBDir(p.GOSUMDB); err != nil {
		return Spec{}, err
	}
	displayName := p.DisplayName
	if displayName == "" {
		displayName = DefaultDisplayName
	}
	return Spec{
		Argv:          []string{filepath.Join(p.BinDir, "gonb"), "--kernel", "{connection_file}", goWorkFlag + p.RepoRoot},
		DisplayName:   displayName,
		Language:      "go",
		InterruptMode: "message", // GoNB handles interrupt_request messages itself.
		Env: map[string]string{
			"PATH":         p.BinDir + string(os.PathListSeparator) + p.GoBinDir + string(os.PathListSeparator) + "${PATH}",
			"GOEXPERIMENT": GoExperiment,
			// "off" after the pinned proxy: a module this repository does not pin fails at once, instead of
			// silently resolving to whatever is latest (see the package comment).
			"GOPROXY": "file://" + p.ProxyDir + ",off",
			"GOSUMDB": p.GOSUMDB,
		},
		Metadata: Metadata{Hymenoptera: Provenance{RepoRoot: p.RepoRoot, GoModSHA256: p.GoModSHA256}},
	}, nil
}

// GoWork returns the repository root that the kernel's GoNB puts in go.work ("" if argv has no --go_work).
func (s Spec) GoWork() string {
	for _, arg := range s.Argv {
		if strings.HasPrefix(arg, goWorkFlag) {
			return strings.TrimPrefix(arg, goWorkFlag)
		}
	}
	return ""
}

// StaleReasons lists why s does not match an installation made with p now (nil: it does). It also checks that the
// files s refers to exist.
func (s Spec) StaleReasons(p Params) []string {
	var reasons []string
	if root := s.GoWork(); root != p.RepoRoot {
		reasons = append(reasons, fmt.Sprintf("it serves the repository %q, not %q", root, p.RepoRoot))
	}
	if got := s.Metadata.Hymenoptera.GoModSHA256; got != p.GoModSHA256 {
		reasons = append(reasons, "go.mod changed since it was installed")
	}
	if s.Env["GOEXPERIMENT"] != GoExperiment {
		reasons = append(reasons, fmt.Sprintf("its GOEXPERIMENT is %q, not %q", s.Env["GOEXPERIMENT"], GoExperiment))
	}
	if len(s.Argv) == 0 {
		return append(reasons, "it has no argv")
	}
	for _, tool := range Tools {
		path := filepath.Join(filepath.Dir(s.Argv[0]), tool)
		if _, err := os.Stat(path); err != nil {
			reasons = append(reasons, fmt.Sprintf("its tool %s is missing", path))
		}
	}
	if proxy, ok := strings.CutPrefix(s.Env["GOPROXY"], "file://"); ok {
		proxy, _, _ = strings.Cut(proxy, ",")
		if _, err := os.Stat(proxy); err != nil {
			reasons = append(reasons, fmt.Sprintf("its module proxy %s is missing", proxy))
		}
	}
	if dir, err := sumDBDir(s.Env["GOSUMDB"]); err != nil {
		reasons = append(reasons, err.Error())
	} else if _, err := os.Stat(dir); err != nil {
		reasons = append(reasons, fmt.Sprintf("its checksum database %s is missing", dir))
	}
	return reasons
}

// sumDBDir returns the directory of a GOSUMDB value that names a database and its file:// URL.
func sumDBDir(gosumdb string) (string, error) {
	fields := strings.Fields(gosumdb)
	if len(fields) != 2 || !strings.HasPrefix(fields[1], "file:///") {
		return "", fmt.Errorf("kernelspec: GOSUMDB %q does not name the pins' checksum database (key file:///dir)", gosumdb)
	}
	return strings.TrimPrefix(fields[1], "file://"), nil
}

// Tools are the programs the kernel runs from its tools directory: GoNB itself, and goimports and gopls, which
// GoNB looks up on PATH.
var Tools = []string{"gonb", "goimports", "gopls"}

// FileName is the kernelspec file inside its directory.
const FileName = "kernel.json"

// Write writes s as dir/kernel.json, and logoSVG (when not nil) as dir/logo-svg.svg, each through a temporary
// file renamed into place so that Jupyter never reads half a kernelspec.
func (s Spec) Write(dir string, logoSVG []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, FileName), append(data, '\n')); err != nil {
		return err
	}
	if logoSVG != nil {
		return writeFileAtomic(filepath.Join(dir, "logo-svg.svg"), logoSVG)
	}
	return nil
}

// ErrNotInstalled is returned by Read when dir has no kernel.json.
var ErrNotInstalled = errors.New("kernelspec not installed")

// Read reads dir/kernel.json.
func Read(dir string) (Spec, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Spec{}, fmt.Errorf("%s: %w", path, ErrNotInstalled)
	}
	if err != nil {
		return Spec{}, err
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

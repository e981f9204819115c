package kernelspec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testParams(t *testing.T) Params {
	dir := t.TempDir()
	bin := filepath.Join(dir, "share", "hymenoptera", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range Tools {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	proxy := filepath.Join(dir, "share", "hymenoptera", "goproxy")
	if err := os.MkdirAll(proxy, 0o755); err != nil {
		t.Fatal(err)
	}
	sumdb := filepath.Join(proxy, "sumdb", "pins")
	if err := os.MkdirAll(sumdb, 0o755); err != nil {
		t.Fatal(err)
	}
	return Params{
		RepoRoot:    "/src/tutorial",
		BinDir:      bin,
		GoBinDir:    "/usr/local/go/bin",
		ProxyDir:    proxy,
		GOSUMDB:     "pins+01234567+AQ== file://" + sumdb,
		GoModSHA256: "abc123",
	}
}

func TestNewBuildsTheKernelJupyterRuns(t *testing.T) {
	p := testParams(t)
	spec, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := []string{filepath.Join(p.BinDir, "gonb"), "--kernel", "{connection_file}", "--go_work=/src/tutorial"}
	if !reflect.DeepEqual(spec.Argv, wantArgv) {
		t.Errorf("argv = %q, want %q", spec.Argv, wantArgv)
	}
	if spec.DisplayName != DefaultDisplayName || spec.Language != "go" || spec.InterruptMode != "message" {
		t.Errorf("display_name/language/interrupt_mode = %q/%q/%q", spec.DisplayName, spec.Language, spec.InterruptMode)
	}
	wantEnv := map[string]string{
		"PATH":         p.BinDir + ":/usr/local/go/bin:${PATH}", // Jupyter expands ${PATH} from its own environment
		"GOEXPERIMENT": "simd",
		"GOPROXY":      "file://" + p.ProxyDir + ",off",
		"GOSUMDB":      p.GOSUMDB,
	}
	if !reflect.DeepEqual(spec.Env, wantEnv) {
		t.Errorf("env = %v, want %v", spec.Env, wantEnv)
	}
	if spec.GoWork() != "/src/tutorial" {
		t.Errorf("GoWork() = %q", spec.GoWork())
	}
	if reasons := spec.StaleReasons(p); len(reasons) != 0 {
		t.Errorf("a fresh kernelspec is stale: %v", reasons)
	}
}

func TestNewRejectsPathsGoNBOrPATHCannotCarry(t *testing.T) {
	for name, mutate := range map[string]func(*Params){
		"relative repository root": func(p *Params) { p.RepoRoot = "tutorial" },
		"comma in repository root": func(p *Params) { p.RepoRoot = "/src/a,b" },
		"relative tools directory": func(p *Params) { p.BinDir = "bin" },
		"colon in tools directory": func(p *Params) { p.BinDir = "/opt/a:b/bin" },
		"comma in proxy directory": func(p *Params) { p.ProxyDir = "/opt/a,b" },
		"relative go directory":    func(p *Params) { p.GoBinDir = "go/bin" },
		"no checksum database":     func(p *Params) { p.GOSUMDB = "" },
		"remote checksum database": func(p *Params) { p.GOSUMDB = "pins+01234567+AQ== https://pins" },
	} {
		t.Run(name, func(t *testing.T) {
			p := testParams(t)
			mutate(&p)
			if _, err := New(p); err == nil {
				t.Errorf("New accepted a %s", name)
			}
		})
	}
}

func TestWriteAndReadRoundTrip(t *testing.T) {
	p := testParams(t)
	spec, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "kernels", DefaultName)
	logo := []byte("<svg/>")
	if err := spec.Write(dir, logo); err != nil {
		t.Fatal(err)
	}
	// Jupyter reads kernel.json as plain JSON with these keys.
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("kernel.json is not JSON: %v", err)
	}
	for _, key := range []string{"argv", "display_name", "language", "env", "metadata"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("kernel.json lacks %q", key)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "logo-svg.svg")); string(got) != "<svg/>" {
		t.Errorf("logo = %q", got)
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, spec) {
		t.Errorf("Read(Write(spec)) = %+v, want %+v", back, spec)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("kernelspec directory holds %d files, want kernel.json and the logo (no temporary files)", len(entries))
	}
}

func TestReadMissing(t *testing.T) {
	if _, err := Read(t.TempDir()); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Read(empty dir) = %v, want ErrNotInstalled", err)
	}
}

func TestStaleReasons(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(p *Params, s *Spec)
		want   string
	}{
		"another checkout": {func(p *Params, s *Spec) { p.RepoRoot = "/elsewhere" }, `not "/elsewhere"`},
		"changed go.mod":   {func(p *Params, s *Spec) { p.GoModSHA256 = "def456" }, "go.mod changed"},
		"no simd":          {func(p *Params, s *Spec) { s.Env["GOEXPERIMENT"] = "" }, "GOEXPERIMENT"},
		"gopls missing": {func(p *Params, s *Spec) {
			os.Rename(filepath.Join(p.BinDir, "gopls"), filepath.Join(p.BinDir, "gopls.old"))
		}, "gopls is missing"},
		"proxy missing": {func(p *Params, s *Spec) {
			s.Env["GOPROXY"] = "file://" + p.ProxyDir + "-gone,off"
		}, "module proxy"},
		// A kernelspec from before the checksum database: GoNB's `go get` would need the public one.
		"no checksum database": {func(p *Params, s *Spec) { delete(s.Env, "GOSUMDB") }, "GOSUMDB"},
		"checksum database missing": {func(p *Params, s *Spec) {
			os.RemoveAll(filepath.Join(p.ProxyDir, "sumdb"))
		}, "checksum database"},
	} {
		t.Run(name, func(t *testing.T) {
			params := testParams(t) // each case its own files: one removes a tool
			spec, err := New(params)
			if err != nil {
				t.Fatal(err)
			}
			s := spec
			s.Env = map[string]string{}
			for k, v := range spec.Env {
				s.Env[k] = v
			}
			tc.change(&params, &s)
			reasons := s.StaleReasons(params)
			if len(reasons) != 1 || !strings.Contains(reasons[0], tc.want) {
				t.Errorf("StaleReasons = %q, want one reason mentioning %q", reasons, tc.want)
			}
		})
	}
}

func TestLayouts(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/home/u/data")
	t.Setenv("JUPYTER_DATA_DIR", "")
	user, err := UserLayout()
	if err != nil {
		t.Fatal(err)
	}
	if user.KernelDir("k") != "/home/u/data/jupyter/kernels/k" || user.BinDir() != "/home/u/data/hymenoptera/bin" {
		t.Errorf("user layout = %+v", user)
	}
	t.Setenv("JUPYTER_DATA_DIR", "/tmp/jd")
	if user, _ := UserLayout(); user.KernelDir("k") != "/tmp/jd/kernels/k" {
		t.Errorf("JUPYTER_DATA_DIR ignored: %+v", user)
	}
	prefix, err := PrefixLayout("/usr/local")
	if err != nil {
		t.Fatal(err)
	}
	if prefix.KernelDir("k") != "/usr/local/share/jupyter/kernels/k" ||
		prefix.ProxyDir() != "/usr/local/share/hymenoptera/goproxy" {
		t.Errorf("prefix layout = %+v", prefix)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/kernel/kernelspec"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		positional []string
		out        string
		timeout    time.Duration
		check      bool
	}{
		{[]string{"a.ipynb"}, []string{"a.ipynb"}, "out", time.Hour, false},
		{[]string{"a.ipynb", "--out", "x", "b.ipynb", "--check"}, []string{"a.ipynb", "b.ipynb"}, "x", time.Hour, true},
		{[]string{"--timeout=90s", "a.ipynb", "-out=y"}, []string{"a.ipynb"}, "y", 90 * time.Second, false},
		{[]string{"a.ipynb", "--", "--out", "-c.ipynb"}, []string{"a.ipynb", "--out", "-c.ipynb"}, "out", time.Hour, false},
	} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		out := fs.String("out", "out", "")
		timeout := fs.Duration("timeout", time.Hour, "")
		check := fs.Bool("check", false, "")
		positional, err := parseInterspersed(fs, tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(positional, tc.positional) || *out != tc.out || *timeout != tc.timeout || *check != tc.check {
			t.Errorf("%q: positional %q out %q timeout %v check %v; want %q %q %v %v", tc.args, positional, *out,
				*timeout, *check, tc.positional, tc.out, tc.timeout, tc.check)
		}
	}
}

func TestParseInterspersedRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"a.ipynb", "--nope"}, {"--timeout", "soon", "a.ipynb"}} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Duration("timeout", time.Hour, "")
		if _, err := parseInterspersed(fs, args); !errors.Is(err, errUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

func TestDispatchExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run"}, 2, "name at least one notebook"},
		{[]string{"run", "notes.txt"}, 2, "not a .ipynb notebook"},
		{[]string{"install", "--prefix", "/tmp/x", "--user"}, 2, "exclude each other"},
		{[]string{"check", "a.ipynb", "--screenshot"}, 2, "--screenshot needs the HTML export"},
		{[]string{"pjrt", "--plugin", "tpu"}, 2, `unknown plugin "tpu"`},
		{[]string{"pjrt", "--plugin", "cuda13"}, 2, "needs --version"},
		{[]string{"check", filepath.Join("testdata", "missing.ipynb")}, 1, "no such file"},
	} {
		var stdout, stderr bytes.Buffer
		code := dispatch(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("kernel %q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(),
				tc.code, tc.want)
		}
	}
}

func TestPlanOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.ipynb", "sub/a.ipynb", "b.ipynb"} {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, html := filepath.Join(dir, "out"), filepath.Join(dir, "html")
	plan, err := planOutputs([]string{filepath.Join(dir, "a.ipynb"), filepath.Join(dir, "b.ipynb")}, out, html)
	if err != nil {
		t.Fatal(err)
	}
	if plan[1].Executed != filepath.Join(out, "b.ipynb") || plan[1].HTML != filepath.Join(html, "b.html") ||
		plan[1].Log != filepath.Join(out, "b.log") || plan[1].Screenshot != filepath.Join(html, "b.png") {
		t.Errorf("plan = %+v", plan[1])
	}
	if _, err := planOutputs([]string{filepath.Join(dir, "a.ipynb")}, dir, html); err == nil {
		t.Error("planOutputs let the executed notebook overwrite its source")
	}
	if _, err := planOutputs([]string{filepath.Join(dir, "a.ipynb"), filepath.Join(dir, "sub", "a.ipynb")}, out, html); err == nil {
		t.Error("planOutputs let two notebooks write the same files")
	}
}

func TestPJRTSearchPathsFollowGoXLA(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ld.so.conf")
	confD := filepath.Join(dir, "ld.so.conf.d")
	os.MkdirAll(confD, 0o755)
	os.WriteFile(conf, []byte("# comment\ninclude "+confD+"/*.conf\n/opt/lib\n\n"), 0o644)
	os.WriteFile(filepath.Join(confD, "x.conf"), []byte("/usr/lib/x86_64-linux-gnu\n"), 0o644)
	env := map[string]string{"LD_LIBRARY_PATH": "/cuda/lib:relative::/more"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	got := pjrtSearchPaths(lookup, "/home/u", conf)
	want := []string{"/home/u/.local/lib/go-xla", "/home/u/.local/lib/go-xla/nvidia", "/home/u/.local/lib/gomlx/pjrt",
		"/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia", "/usr/local/lib/gomlx/pjrt",
		"/cuda/lib", "/more", "/usr/lib/x86_64-linux-gnu", "/opt/lib"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default search path =\n%q\nwant\n%q", got, want)
	}

	env[pjrtPathsEnv] = "/a::/b"
	if got := pjrtSearchPaths(lookup, "/home/u", conf); !reflect.DeepEqual(got, []string{"/a", "/b"}) {
		t.Errorf("with %s set: %q, want only its entries", pjrtPathsEnv, got)
	}
}

func TestFindPJRTFilesNamesPluginsLikeGoXLA(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"pjrt_c_api_cpu_v0.114.0_plugin.so", "pjrt_c_api_cpu_plugin.so",
		"pjrt-plugin-tpu.so", "libpjrt_other.so", "pjrt_c_api_cuda_plugin.so.bak"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	var names []string
	for _, f := range findPJRTFiles([]string{dir, filepath.Join(dir, "absent")}) {
		names = append(names, f.Name)
	}
	want := []string{"tpu", "cpu", "cpu_v0.114.0"} // directory order: by file name
	if !reflect.DeepEqual(names, want) {
		t.Errorf("plugins = %q, want %q", names, want)
	}
}

func TestCheckGoVersion(t *testing.T) {
	r := &repo{GoVersion: "1.26.5"}
	if err := r.checkGoVersion(&goCommand{Version: "go1.26.8"}); err != nil {
		t.Errorf("go1.26.8 for go 1.26.5: %v", err)
	}
	if err := r.checkGoVersion(&goCommand{Version: "go1.25.3"}); err == nil {
		t.Error("go1.25.3 accepted for go 1.26.5")
	}
	r.Toolchain = "go1.26.9"
	if err := r.checkGoVersion(&goCommand{Version: "go1.26.8"}); err == nil {
		t.Error("go1.26.8 accepted for toolchain go1.26.9")
	}
}

// The tools install builds are exactly the ones the go.mod of their modules (the repository's, kernel/gopls's) pin
// with tool directives, so that `go tool gonb` and the kernel agree.
func TestKernelToolsAreGoModTools(t *testing.T) {
	r, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	var directives, built, names []string
	read := map[string]bool{}
	for _, tool := range kernelTools {
		built = append(built, tool.Package)
		names = append(names, tool.Name)
		if _, err := r.toolVersion(tool); err != nil {
			t.Errorf("%s: %v", tool.Name, err)
		}
		dir := r.toolModuleDir(tool)
		if read[dir] {
			continue
		}
		read[dir] = true
		out, err := goOutput(dir, nil, "mod", "edit", "-json")
		if err != nil {
			t.Fatal(err)
		}
		var mod struct{ Tool []struct{ Path string } }
		if err := json.Unmarshal(out, &mod); err != nil {
			t.Fatal(err)
		}
		for _, tool := range mod.Tool {
			directives = append(directives, tool.Path)
		}
	}
	sort.Strings(directives)
	sort.Strings(built)
	if !reflect.DeepEqual(directives, built) {
		t.Errorf("go.mod tool directives %q, kernel tools %q", directives, built)
	}
	if !reflect.DeepEqual(names, kernelspec.Tools) {
		t.Errorf("install builds %q, but a kernelspec counts as installed with %q", names, kernelspec.Tools)
	}
}

// TestDoctorReportsCPUAndKernels: doctor names the CPU and the pure-Go backend's matrix-multiplication kernels,
// and warns exactly when they are the plain-Go ones.
func TestDoctorReportsCPUAndKernels(t *testing.T) {
	var out bytes.Buffer
	rep := &report{out: &out}
	doctorKernels(rep)
	text := out.String()
	if !strings.Contains(text, "cpu ") || !strings.Contains(text, "pure-Go matrix multiplication: simd:") {
		t.Fatalf("doctor's CPU and kernels lines are missing:\n%s", text)
	}
	noSIMD := strings.Contains(text, "simd:nosimd")
	if warned := strings.Contains(text, "warn    kernels"); warned != noSIMD {
		t.Errorf("warning shown: %v, want %v (plain-Go kernels: %v):\n%s", warned, noSIMD, noSIMD, text)
	}
	if len(rep.failed) > 0 {
		t.Errorf("doctor failed %v:\n%s", rep.failed, text)
	}
}

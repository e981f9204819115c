package pinproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const pseudo = "v0.0.0-20240102030405-abcdefabcdef"

// fakeCache makes a module cache download directory holding two modules, one tagged and one at a pseudo-version.
func fakeCache(t *testing.T) string {
	cache := filepath.Join(t.TempDir(), "download")
	writeFile(t, filepath.Join(cache, "example.com/!pinned/@v/v1.2.3.info"),
		`{"Version":"v1.2.3","Time":"2024-01-01T00:00:00Z"}`)
	writeFile(t, filepath.Join(cache, "example.com/!pinned/@v/v1.2.3.mod"), "module example.com/Pinned\n")
	writeFile(t, filepath.Join(cache, "example.com/pseudo/@v/"+pseudo+".info"),
		`{"Version":"`+pseudo+`","Time":"2024-01-02T03:04:05Z"}`)
	writeFile(t, filepath.Join(cache, "example.com/pseudo/@v/"+pseudo+".mod"), "module example.com/pseudo\n")
	return cache
}

var testModules = []Module{{"example.com/Pinned", "v1.2.3"}, {"example.com/pseudo", pseudo}}

func TestWriteLaysOutTheProxyProtocol(t *testing.T) {
	cache := fakeCache(t)
	dir := filepath.Join(t.TempDir(), "goproxy")
	if _, err := Write(dir, testModules, nil, cache); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(dir, "example.com/!pinned/@v/list"))
	if err != nil || string(list) != "v1.2.3\n" {
		t.Errorf("list = %q, %v", list, err)
	}
	latest, _ := os.ReadFile(filepath.Join(dir, "example.com/pseudo/@latest"))
	if !strings.Contains(string(latest), pseudo) {
		t.Errorf("@latest = %q, want the pinned pseudo-version", latest)
	}
	link, err := os.Readlink(filepath.Join(dir, "example.com/!pinned/@v/v1.2.3.mod"))
	if err != nil || link != filepath.Join(cache, "example.com/!pinned/@v/v1.2.3.mod") {
		t.Errorf(".mod link = %q, %v", link, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "example.com/!pinned/@v/v1.2.3.zip")); !os.IsNotExist(err) {
		t.Errorf("linked a .zip the cache does not have: %v", err)
	}

	// Writing again replaces the tree: modules no longer pinned disappear, and no staging directory remains.
	if _, err := Write(dir, testModules[:1], nil, cache); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "example.com/pseudo")); !os.IsNotExist(err) {
		t.Errorf("a module dropped from the pins is still served: %v", err)
	}
	siblings, _ := os.ReadDir(filepath.Dir(dir))
	if len(siblings) != 1 {
		t.Errorf("the proxy's parent holds %d entries, want only goproxy", len(siblings))
	}
}

// TestGoCommandResolvesLatestToThePin asks the real go command, the proxy's only client, what "latest" is.
func TestGoCommandResolvesLatestToThePin(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cache := fakeCache(t)
	proxy := filepath.Join(t.TempDir(), "goproxy")
	if _, err := Write(proxy, testModules, nil, cache); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "go.mod"), "module probe\n\ngo 1.22\n")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOPROXY=file://"+proxy+",off", "GOMODCACHE="+filepath.Join(t.TempDir(), "mod"),
			"GOFLAGS=-modcacherw", "GOWORK=off", "GOTOOLCHAIN=local", "GONOSUMDB=example.com", "GOSUMDB=off")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("list", "-m", "-versions", "example.com/Pinned"); err != nil || out != "example.com/Pinned v1.2.3" {
		t.Errorf("go list -m -versions = %q, %v", out, err)
	}
	for mod, want := range map[string]string{"example.com/Pinned": "v1.2.3", "example.com/pseudo": pseudo} {
		if out, err := run("list", "-m", "-f", "{{.Version}}", mod+"@latest"); err != nil || out != want {
			t.Errorf("go list -m %s@latest = %q, %v; want %s", mod, out, err, want)
		}
	}
	if out, err := run("list", "-m", "example.com/unpinned@latest"); err == nil {
		t.Errorf("an unpinned module resolved through the proxy: %q", out)
	}
}

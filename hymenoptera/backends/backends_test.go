package backends

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestChooseHonoursEnvironment: GOMLX_BACKEND decides when set.
func TestChooseHonoursEnvironment(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
	if c := Choose(); c.Config != "go" || !strings.Contains(c.Reason, "GOMLX_BACKEND") {
		t.Errorf("Choose() = %+v", c)
	}
	if _, err := NewWithConfig("nonexistent"); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("an unknown backend gave %v, want an error naming it", err)
	}
}

// TestDamagedPluginFallsBackToGo: a plugin file that fails to load (go-xla panics on it) makes the search find
// nothing, so the pure-Go backend is chosen. go-xla reads PJRT_PLUGIN_LIBRARY_PATH when the program starts, so
// the check runs in a child process.
func TestDamagedPluginFallsBackToGo(t *testing.T) {
	if os.Getenv("BACKENDS_TEST_CHILD") == "1" {
		os.Stdout.WriteString("choice=" + Choose().Config + "\n")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pjrt_c_api_cpu_plugin.so"), []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDamagedPluginFallsBackToGo$")
	cmd.Env = append(os.Environ(), "BACKENDS_TEST_CHILD=1", "PJRT_PLUGIN_LIBRARY_PATH="+dir, "GOMLX_BACKEND=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "choice=go\n") {
		t.Errorf("with a damaged plugin the choice was not the Go backend:\n%s", out)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/kernel/kernelspec"
	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

// requireTool skips the test when something it needs is not installed, except under CI (CI=true), where it fails:
// CI must never count a skipped integration test as a pass. (The project's hymenoptera/internal/testenv has the
// same rule, but Go's internal-package rule keeps it out of reach of kernel/.)
func requireTool(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s: %v (Debian: apt-get install %s %s)", what, err, strings.Join(jupyterAptPackages, " "),
		strings.Join(browserAptPackages, " "))
}

// writeNotebook writes a GoNB notebook whose cells have the given sources.
func writeNotebook(t *testing.T, path string, cells ...string) {
	t.Helper()
	type cell struct {
		CellType       string   `json:"cell_type"`
		ExecutionCount *int     `json:"execution_count"`
		Metadata       struct{} `json:"metadata"`
		Outputs        []any    `json:"outputs"`
		Source         string   `json:"source"`
	}
	nb := map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]string{
			"name": kernelspec.DefaultName, "display_name": kernelspec.DefaultDisplayName, "language": "go"}},
	}
	var list []cell
	for _, src := range cells {
		list = append(list, cell{CellType: "code", Outputs: []any{}, Source: src})
	}
	nb["cells"] = list
	data, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// drawCell imports this repository's nbcheck package (so the notebook must find the module through the kernel's
// go.work) and GoNB's gonbui, draws a gradient, prints what nbcheck measures of it, and displays it (then waits
// for GoNB to take it, as gonbui.Sync's documentation asks of a program that exits right after displaying).
const drawCell = `import (
	"bytes"
	"image"
	"image/color"
	"image/png"

	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
	"github.com/janpfeifer/gonb/gonbui"
)

%%
img := image.NewRGBA(image.Rect(0, 0, 96, 64))
for y := 0; y < 64; y++ {
	for x := 0; x < 96; x++ {
		img.Set(x, y, color.RGBA{uint8(2 * x), uint8(4 * y), 160, 255})
	}
}
var buf bytes.Buffer
if err := png.Encode(&buf, img); err != nil {
	panic(err)
}
fmt.Printf("gradient: %s\n", nbcheck.Measure(img))
fmt.Printf("probe=%s experiment=%s\n", os.Getenv("HYMENOPTERA_KERNEL_PROBE"), os.Getenv("GOEXPERIMENT"))
gonbui.DisplayPng(buf.Bytes())
gonbui.Sync() // the program exits next: wait until GoNB has the image`

// installTestKernel installs the kernel into a temporary prefix, with temporary Jupyter directories (the user's
// are not touched), checks that a second install is a no-op, and returns the temporary directory and the prefix.
// It skips (fails under CI) when Jupyter or Chromium is missing.
func installTestKernel(t *testing.T) (tmp, prefix string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the integration test builds GoNB and starts Jupyter kernels")
	}
	_, err := findJupyter()
	requireTool(t, err, "Jupyter's nbconvert")
	_, err = nbcheck.FindBrowser()
	requireTool(t, err, "headless Chromium")

	tmp = t.TempDir()
	for _, v := range []string{"JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"} {
		t.Setenv(v, filepath.Join(tmp, strings.ToLower(v)))
	}
	t.Setenv("JUPYTER_PATH", "")
	prefix = filepath.Join(tmp, "prefix")
	var log bytes.Buffer
	if err := runInstall([]string{"--prefix", prefix}, &log); err != nil {
		t.Fatalf("install: %v\n%s", err, log.String())
	}
	log.Reset()
	if err := runInstall([]string{"--prefix", prefix}, &log); err != nil { // idempotent
		t.Fatalf("second install: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), `Jupyter (`) || !strings.Contains(log.String(), "lists kernel") {
		t.Errorf("install does not report that Jupyter lists the kernel:\n%s", log.String())
	}
	return tmp, prefix
}

// TestKernelRunsANotebook installs the kernel, runs a notebook through nbconvert with it, and checks the executed
// notebook, the HTML export and a screenshot; then runs a notebook whose middle cell panics and checks the report.
func TestKernelRunsANotebook(t *testing.T) {
	tmp, prefix := installTestKernel(t)
	t.Setenv("HYMENOPTERA_KERNEL_PROBE", "passed-through")
	notebooks := filepath.Join(tmp, "notebooks")
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(notebooks, 0o755); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	good := filepath.Join(notebooks, "draw.ipynb")
	writeNotebook(t, good, drawCell, "%%\nfmt.Println(\"second cell\")")
	err := runRun([]string{good, "--prefix", prefix, "--out", out, "--timeout", "10m", "--check", "--min-images", "1"}, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s\nkernel log:\n%s", err, log.String(), logTail(filepath.Join(out, "draw.log")))
	}
	nb, err := nbcheck.Load(filepath.Join(out, "draw.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if f := nb.FirstFailure(); f != nil {
		t.Fatalf("executed notebook has a failure: %v", f)
	}
	stdout := nb.Stdout()
	for _, want := range []string{"gradient: 96×64, 100.00% non-white pixels", "probe=passed-through experiment=simd",
		"second cell"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("notebook output lacks %q:\n%s", want, stdout)
		}
	}
	images := nb.Images()
	if len(images) != 1 || images[0].MIME != "image/png" {
		t.Fatalf("images = %+v, want the one PNG", images)
	}
	html, err := os.ReadFile(filepath.Join(out, "draw.html"))
	if err != nil {
		t.Fatal(err)
	}
	if missing := nbcheck.MissingFromHTML(images, html); len(missing) > 0 {
		t.Errorf("HTML export lacks the image")
	}
	stats, err := nbcheck.CheckScreenshot(filepath.Join(out, "draw.png"))
	if err != nil {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("run:\n%s\nscreenshot: %s", log.String(), stats)

	bad := filepath.Join(notebooks, "panics.ipynb")
	writeNotebook(t, bad, "%%\nfmt.Println(\"before\")", "%%\npanic(\"deliberate failure\")", "%%\nfmt.Println(\"after\")")
	log.Reset()
	err = runRun([]string{bad, "--prefix", prefix, "--out", out}, &log)
	if err == nil {
		t.Fatalf("run of a panicking notebook succeeded:\n%s", log.String())
	}
	for _, want := range []string{"cell 1 (In [2]) raised an error", `panic("deliberate failure")`,
		"panic: deliberate failure", filepath.Join(out, "panics.ipynb")} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("failure report lacks %q:\n%s", want, log.String())
		}
	}
	executed, err := nbcheck.Load(filepath.Join(out, "panics.ipynb"))
	if err != nil {
		t.Fatalf("the failed run wrote no executed notebook: %v", err)
	}
	if executed.Cells[2].ExecutionCount != nil {
		t.Error("the cell after the failing one ran: run must stop at the first failure")
	}
	if _, err := os.Stat(filepath.Join(out, "panics.html")); err != nil {
		t.Errorf("the failed run wrote no HTML export: %v", err)
	}
}

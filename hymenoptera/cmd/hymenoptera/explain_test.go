package main

//go:generate /usr/bin/python3 ../../reference/explain_fixtures.py

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/numpy"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
)

// explainFixtures are the Grad-CAM images, their checkpoint and PyTorch's results (reference/explain_fixtures.py).
func explainFixtures(t *testing.T) (checkpoint string, images []string, logits, maps []float32) {
	t.Helper()
	path := testenv.Fixture(t, "explain", "expected.json")
	var want struct {
		Checkpoint string   `json:"checkpoint"`
		CamFiles   []string `json:"cam_files"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dir := filepath.Dir(path)
	for _, f := range want.CamFiles {
		images = append(images, filepath.Join(dir, f))
	}
	arrays, err := numpy.FromNpzFile(testenv.Fixture(t, "explain", "explain.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if logits, err = tensors.CopyFlatData[float32](arrays["cam_logits"]); err != nil {
		t.Fatal(err)
	}
	if maps, err = tensors.CopyFlatData[float32](arrays["cam7_pred"]); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, want.Checkpoint), images, logits, maps
}

// TestExplainMatchesPyTorch: explain --json gives, per image, PyTorch's prediction (logits within 1e-4) and the
// peak of PyTorch's Grad-CAM map (the centre of its largest 7×7 cell in the 224×224 input; none for an all-zero
// map), and writes an overlay PNG.
func TestExplainMatchesPyTorch(t *testing.T) {
	checkpoint, images, wantLogits, wantMaps := explainFixtures(t)
	out := t.TempDir()
	code, stdout, _ := runCLI(t, append([]string{"explain", "--weights", checkpoint, "--json", "--out", out}, images...)...)
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(images) {
		t.Fatalf("%d lines for %d images:\n%s", len(lines), len(images), stdout)
	}
	for i, line := range lines {
		var e explanation
		decoder := json.NewDecoder(strings.NewReader(line))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(&e); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		want := wantLogits[2*i : 2*i+2]
		if e.Image != images[i] || e.Top1 != predict.ArgMax(want) {
			t.Errorf("line %d: image %s, top1 %d; want %s, %d", i, e.Image, e.Top1, images[i], predict.ArgMax(want))
		}
		for j := range want {
			if math.Abs(float64(e.Logits[j]-want[j])) > 1e-4 {
				t.Errorf("%s: logits %v, PyTorch's %v", e.Image, e.Logits, want)
			}
		}
		if p := predict.Softmax(want)[e.Top1]; math.Abs(e.Probability-p) > 1e-5 {
			t.Errorf("%s: probability %v, want %v", e.Image, e.Probability, p)
		}
		cell := predict.ArgMax(wantMaps[49*i : 49*(i+1)])
		var wantPeak *[2]int
		if wantMaps[49*i+cell] > 0 {
			wantPeak = &[2]int{(cell%7)*32 + 16, (cell/7)*32 + 16}
		}
		if (e.Peak == nil) != (wantPeak == nil) || (e.Peak != nil && *e.Peak != *wantPeak) {
			t.Errorf("%s: peak %v, PyTorch's map peaks at %v", e.Image, e.Peak, wantPeak)
		}
		f, err := os.Open(e.Overlay)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", e.Overlay, err)
		}
		f.Close()
	}
}

// TestExplainBadInput: an image that does not decode is reported by name and the others are explained (exit 1);
// a checkpoint of another architecture (ResNet-34) fails before any image, naming the file.
func TestExplainBadInput(t *testing.T) {
	checkpoint, images, _, _ := explainFixtures(t)
	dir := t.TempDir()
	notAnImage := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(notAnImage, []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "explain", "--weights", checkpoint, "--out", dir, notAnImage, images[0])
	if code != 1 || !strings.Contains(stderr, notAnImage) || !strings.HasPrefix(stdout, images[0]+": ") ||
		strings.Count(stdout, "\n") != 1 {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 1, one line for %s, %s named", code, stdout, stderr,
			images[0], notAnImage)
	}
	resnet34 := testenv.Fixture(t, "model", "resnet34_random.pth")
	code, stdout, stderr = runCLI(t, "explain", "--weights", resnet34, images[0])
	if code != 1 || stdout != "" || !strings.Contains(stderr, resnet34) {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 1, nothing, the checkpoint named", code, stdout, stderr)
	}
}

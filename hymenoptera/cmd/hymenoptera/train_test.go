package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// tinyTrainArgs is a whole scenario in a tiny configuration: 8 images per split at 64×64, PyTorch-made random
// weights, the dataset zip from ../shared/data.
func tinyTrainArgs(t *testing.T, out string, extra ...string) []string {
	t.Helper()
	t.Setenv("HYMENOPTERA_DATA", filepath.Join(t.TempDir(), "data"))
	return append([]string{"train", "--scenario", "fixed", "--image-size", "64", "--max-images", "8",
		"--weights", testenv.Fixture(t, "model", "resnet18_random.pth"), "--data", testenv.DatasetZip(t),
		"--out", out}, extra...)
}

func readHistory(t *testing.T, path string) train.History {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h train.History
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestTrainEndToEnd: `train` names the CPU and kernels and estimates the run before it, runs a scenario, writes a
// loadable 2-class best.pth with the class names, the history (JSON and CSV) and the curves; --resume extends
// the run; an existing run without --resume is refused.
func TestTrainEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, tinyTrainArgs(t, out, "--epochs", "2")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Epoch 0/1\n----------\ntrain Loss: ", "val Loss: ", "Best val Acc: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "NOT the ImageNet weights") {
		t.Errorf("the random starting weights are not named as such:\n%s", stderr)
	}
	for _, want := range []string{"CPU and kernels: ", "matrix multiplication simd:", "Estimated time on this machine",
		"fixed feature extractor: ", "for 2 epochs"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("standard error lacks %q:\n%s", want, stderr)
		}
	}
	for _, name := range []string{"best.pth", "history.json", "history.csv", "curves.svg"} {
		if info, err := os.Stat(filepath.Join(out, name)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	best, err := models.FromCheckpoint(backend, filepath.Join(out, "best.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(best.Classes, []string{"ants", "bees"}) {
		t.Errorf("best.pth classes %v", best.Classes)
	}
	if h := readHistory(t, filepath.Join(out, "history.json")); len(h.Epochs) != 2 || h.Epochs[1].Train.Samples != 8 {
		t.Errorf("history %+v", h)
	}
	csv, err := os.ReadFile(filepath.Join(out, "history.csv"))
	if err != nil || strings.Count(string(csv), "\n") != 3 {
		t.Errorf("history.csv: %v\n%s", err, csv)
	}

	if code, _, stderr := runCLI(t, tinyTrainArgs(t, out, "--epochs", "3")...); code != 1 || !strings.Contains(stderr, "Resume") {
		t.Errorf("a second run into the same directory without --resume: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, tinyTrainArgs(t, out, "--epochs", "3", "--resume")...)
	if code != 0 || !strings.Contains(stdout, "Resuming from") || strings.Contains(stdout, "Epoch 0/2") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "for 1 epoch\n") { // the estimate covers the epoch left to run
		t.Errorf("resume: the estimate is not for the one epoch left:\n%s", stderr)
	}
	if h := readHistory(t, filepath.Join(out, "history.json")); len(h.Epochs) != 3 {
		t.Errorf("after resuming to 3 epochs the history has %d", len(h.Epochs))
	}
}

// TestTrainCommandLineErrors: bad command lines exit with status 2 and say what is wrong.
func TestTrainCommandLineErrors(t *testing.T) {
	for _, args := range [][]string{
		{"train"},
		{"train", "--scenario", "sideways"},
		{"train", "--scenario", "finetune", "--epochs", "0"},
		{"train", "--scenario", "finetune", "--frozen-bn"},
		{"train", "--scenario", "fixed", "extra"},
		{"bench", "--mode", "eval", "--scenario", "fixed"},
		{"bench", "--mode", "epoch", "--scenario", "sideways", "--torch=false"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

package tutorial

import (
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// TestFromEnv: the tutorial's defaults, overridden by HYMENOPTERA_* variables; a bad value names the variable.
func TestFromEnv(t *testing.T) {
	clearEnv(t)
	s, err := FromEnv()
	if err != nil || s.Epochs != 25 || s.BatchSize != 4 || s.ImageSize != 224 || s.MaxImages != 0 || s.Resume {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	t.Setenv(EnvEpochs, "2")
	t.Setenv(EnvMaxImages, "8")
	t.Setenv(EnvResume, "true")
	t.Setenv(EnvRuns, "/tmp/somewhere")
	if s, err = FromEnv(); err != nil || s.Epochs != 2 || s.MaxImages != 8 || !s.Resume {
		t.Fatalf("overridden: %+v, %v", s, err)
	}
	if dir, err := s.RunDir("fixed"); err != nil || dir != "/tmp/somewhere/fixed" {
		t.Errorf("RunDir = %q, %v", dir, err)
	}
	for name, value := range map[string]string{EnvEpochs: "zero", EnvImageSize: "16", EnvSeed: "1.5", EnvResume: "maybe",
		EnvLR: "Inf", EnvWorkers: "-1", EnvDataSkipChecksum: "yes please"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), value) {
				t.Errorf("%s=%s gave %v, want an error naming both", name, value, err)
			}
		})
	}
}

func clearEnv(t *testing.T) {
	for _, e := range settings {
		t.Setenv(e.env, "")
	}
}

// TestFlagsOverrideEnv: the environment gives the flags' defaults, a flag given wins, the sources are named, and
// a bad flag value is an error naming the flag and the value.
func TestFlagsOverrideEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvEpochs, "1")
	t.Setenv(EnvImageSize, "64")
	t.Setenv(EnvLR, "0.01")
	s, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.Flags(fs, "epochs", "image-size", "lr", "weights", "resume")
	if err := fs.Parse([]string{"--lr", "0.5", "--resume"}); err != nil {
		t.Fatal(err)
	}
	s.RecordFlags(fs)
	if s.Epochs != 1 || s.ImageSize != 64 || s.LR != 0.5 || !s.Resume || s.Weights != "" {
		t.Errorf("settings %+v", s)
	}
	want := "epochs=1 ($HYMENOPTERA_EPOCHS), image-size=64 ($HYMENOPTERA_IMAGE_SIZE), lr=0.5 (--lr), resume=true (--resume)"
	if got := s.DescribeSources(); got != want {
		t.Errorf("DescribeSources = %q, want %q", got, want)
	}
	for _, bad := range [][]string{{"--lr", "NaN"}, {"--lr", "Inf"}, {"--lr", "-1"}, {"--epochs", "abc"}} {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		s.Flags(fs, "epochs", "lr")
		if err := fs.Parse(bad); err == nil || !strings.Contains(err.Error(), bad[0][2:]) || !strings.Contains(err.Error(), bad[1]) {
			t.Errorf("%q: %v, want an error naming the flag and the value", bad, err)
		}
	}
}

// TestLibraryOptionsFromSettings: the cache, data and weights settings reach the library as explicit options.
func TestLibraryOptionsFromSettings(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvCache, "/c")
	t.Setenv(EnvDataSkipChecksum, "1")
	t.Setenv(EnvWeights, "/nonexistent/w.pth")
	s, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := s.DownloadOptions(nil)
	if err != nil || opts.Dir != "/c/data" || !opts.SkipChecksum {
		t.Errorf("DownloadOptions = %+v, %v", opts, err)
	}
	if _, err := s.WeightsFile(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/w.pth") ||
		!strings.Contains(err.Error(), EnvWeights) {
		t.Errorf("WeightsFile of a missing file = %v, want an error naming it and its source", err)
	}
}

// TestBalancedSubset: a tiny configuration takes the classes in turn and keeps the folder's order.
func TestBalancedSubset(t *testing.T) {
	folder := &datasets.ImageFolder{Classes: []string{"ants", "bees"}}
	for i := range 10 {
		label := 0
		if i >= 7 {
			label = 1
		}
		folder.Samples = append(folder.Samples, datasets.Sample{Path: string(rune('a' + i)), Label: label})
	}
	subset, paths := balancedSubset(folder, 4)
	if subset.Len() != 4 || strings.Join(paths, "") != "abhi" {
		t.Errorf("subset of 4: %d samples %v, want a b (ants) h i (bees)", subset.Len(), paths)
	}
	labels := 0
	for i := range subset.Len() {
		labels += subset.Label(i)
	}
	if labels != 2 {
		t.Errorf("subset labels sum to %d, want 2 bees", labels)
	}
	if all, _ := balancedSubset(folder, 0); all.Len() != 10 {
		t.Errorf("max 0 keeps %d samples, want all 10", all.Len())
	}
	if notebook := (Settings{MaxImages: 4}).Subset(folder); notebook.Len() != 4 || notebook.Label(3) != 1 {
		t.Errorf("Settings.Subset of 4: %d samples, the last labelled %d: want balancedSubset's", notebook.Len(),
			notebook.Label(3))
	}
}

// TestWeightsDescription: only a file with the ImageNet checkpoint's checksum is called the ImageNet weights.
func TestWeightsDescription(t *testing.T) {
	random := testenv.Fixture(t, "model", "resnet18_random.pth")
	if d := WeightsDescription(random); !strings.HasPrefix(d, "NOT the ImageNet weights") || !strings.Contains(d, random) {
		t.Errorf("random weights described as %q", d)
	}
}

package tutorial

import (
	"context"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// TestFromEnv: the tutorial's defaults, overridden by HYMENOPTERA_* variables; a bad value names the variable.
func TestFromEnv(t *testing.T) {
	for _, name := range []string{EnvEpochs, EnvBatch, EnvImageSize, EnvMaxImages, EnvSeed, EnvWorkers, EnvRuns, EnvResume} {
		t.Setenv(name, "")
	}
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
	for name, value := range map[string]string{EnvEpochs: "zero", EnvImageSize: "16", EnvSeed: "1.5", EnvResume: "maybe"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), value) {
				t.Errorf("%s=%s gave %v, want an error naming both", name, value, err)
			}
		})
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

// TestWeightsFileOfACheckpoint: a checkpoint file is used as it is, with nothing fetched.
func TestWeightsFileOfACheckpoint(t *testing.T) {
	const checkpoint = "runs/finetune/best.pth"
	if file, err := WeightsFile(context.Background(), checkpoint, nil); err != nil || file != checkpoint {
		t.Fatalf("WeightsFile = %q, %v, want the checkpoint itself", file, err)
	}
}

// TestWeightsDescription: only a file with the ImageNet checkpoint's checksum is called the ImageNet weights.
func TestWeightsDescription(t *testing.T) {
	random := testenv.Fixture(t, "model", "resnet18_random.pth")
	if d := WeightsDescription(random); !strings.HasPrefix(d, "NOT the ImageNet weights") || !strings.Contains(d, random) {
		t.Errorf("random weights described as %q", d)
	}
}

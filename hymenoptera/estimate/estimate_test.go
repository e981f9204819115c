package estimate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// TestCalibrate times real steps of both scenarios on small images and checks what the estimate makes of them:
// a positive time per step, a frozen backbone's training step faster than fine-tuning's (it has no backward
// pass through the backbone), and epochs of ⌈images/batch⌉ steps of each phase.
func TestCalibrate(t *testing.T) {
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	run := Run{Scenarios: []train.Scenario{train.FineTune, train.FixedFeatureExtractor}, Epochs: 3,
		TrainImages: 10, ValImages: 7, Batch: 4, ImageSize: 64}
	e, err := Calibrate(context.Background(), backend, run)
	if err != nil {
		t.Fatal(err)
	}
	ft, fixed := e.TrainStep[train.FineTune], e.TrainStep[train.FixedFeatureExtractor]
	if ft <= 0 || fixed <= 0 || e.EvalStep <= 0 {
		t.Fatalf("step times %v, %v, %v: want positive durations", ft, fixed, e.EvalStep)
	}
	if fixed >= ft {
		t.Errorf("a frozen backbone's training step took %v, fine-tuning's %v: want it faster", fixed, ft)
	}
	// 10 training images in batches of 4: 3 steps; 7 validation images: 2 steps.
	wantEpoch := 3*ft + 2*e.EvalStep
	if got := e.Epoch(train.FineTune); got != wantEpoch {
		t.Errorf("Epoch(finetune) = %v, want %v", got, wantEpoch)
	}
	if got, want := e.Total(), 3*(wantEpoch+3*fixed+2*e.EvalStep); got != want {
		t.Errorf("Total() = %v, want %v", got, want)
	}
	text := e.String()
	for _, want := range []string{"fine-tuning:", "fixed feature extractor:", "for 3 epochs", "in all"} {
		if !strings.Contains(text, want) {
			t.Errorf("the estimate does not say %q:\n%s", want, text)
		}
	}
}

// TestCalibrateRefusesEmptyRuns: a run without scenarios or with a zero size is an error, not a zero estimate.
func TestCalibrateRefusesEmptyRuns(t *testing.T) {
	for _, run := range []Run{
		{Epochs: 1, Batch: 4, ImageSize: 64},
		{Scenarios: []train.Scenario{train.FineTune}, Epochs: 0, Batch: 4, ImageSize: 64},
		{Scenarios: []train.Scenario{train.FineTune}, Epochs: 1, Batch: 0, ImageSize: 64},
	} {
		if _, err := Calibrate(context.Background(), nil, run); err == nil {
			t.Errorf("Calibrate(%+v): want an error", run)
		}
	}
}

// TestHuman: durations keep their meaningful digits.
func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{40 * time.Second: "40 s", 95*time.Second + 400*time.Millisecond: "95 s", 24*time.Minute + 10*time.Second: "24 min",
		65*time.Minute + 20*time.Second: "1 h 05 min"} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

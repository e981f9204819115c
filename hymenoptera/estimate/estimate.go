// Package estimate tells a learner, before a long training starts, how long it will take on this machine. The
// same notebook takes two minutes on a GPU and well over an hour on a laptop whose CPU the pure-Go backend has
// no SIMD kernels for; a figure measured here and now beats any table.
//
// Calibrate times a few steps of a throwaway ResNet-18 (random weights, 2 classes: the run's own model is not
// touched, so the run's results do not change) on a synthetic batch of the run's size, and scales them to the
// run's epochs. The estimate leaves out what a run adds: compiling the graphs (seconds), decoding the images in
// the first epoch (done alongside the steps, on the same cores), and the short last batch's extra compilation.
package estimate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// Run is the training to estimate: each scenario trains Epochs epochs, each a training phase over TrainImages
// and a validation phase over ValImages, in batches of Batch images of ImageSize×ImageSize pixels.
type Run struct {
	Scenarios              []train.Scenario
	Epochs                 int
	TrainImages, ValImages int
	Batch, ImageSize       int
}

// TimedSteps is how many steps of each kind Calibrate times, after one untimed step that compiles the graph.
const TimedSteps = 3

// Estimate is a run's expected duration on this machine, from the measured time of one step of each kind.
type Estimate struct {
	Run       Run
	TrainStep map[train.Scenario]time.Duration // one training step (forward, backward, SGD) per scenario
	EvalStep  time.Duration                    // one validation step (forward in evaluation mode)
}

// Calibrate measures a training step of each of run's scenarios and an evaluation step on backend.
func Calibrate(ctx context.Context, backend compute.Backend, run Run) (Estimate, error) {
	switch {
	case len(run.Scenarios) == 0:
		return Estimate{}, fmt.Errorf("estimate: no scenario to estimate")
	case run.Epochs < 1 || run.Batch < 1 || run.ImageSize < 1 || run.TrainImages < 0 || run.ValImages < 0:
		return Estimate{}, fmt.Errorf("estimate: epochs %d, batch %d, image size %d, %d+%d images: want positive "+
			"sizes", run.Epochs, run.Batch, run.ImageSize, run.TrainImages, run.ValImages)
	}
	batch := syntheticBatch(run.Batch, run.ImageSize)
	e := Estimate{Run: run, TrainStep: map[train.Scenario]time.Duration{}}
	for i, scenario := range run.Scenarios {
		// A new model per scenario: the fixed feature extractor freezes its backbone.
		m, err := models.ResNet18(backend, models.Options{NumClasses: 2, Seed: 1})
		if err != nil {
			return Estimate{}, err
		}
		stepper, err := train.NewStepper(m, train.CrossEntropyLoss,
			&train.SGD{Params: scenario.Parameters(m), LR: 0.001, Momentum: 0.9}) // the values do not change the time
		if err != nil {
			return Estimate{}, err
		}
		m.Train()
		if e.TrainStep[scenario], err = timeStep(ctx, stepper.Train, batch); err != nil {
			return Estimate{}, err
		}
		if i == 0 { // evaluation is the same forward pass in every scenario
			m.Eval()
			if e.EvalStep, err = timeStep(ctx, stepper.Eval, batch); err != nil {
				return Estimate{}, err
			}
		}
	}
	return e, nil
}

// timeStep runs step once untimed (it compiles), then TimedSteps times, and returns the mean time of those.
func timeStep(ctx context.Context, step func(dataloader.Batch) (train.StepResult, error), batch dataloader.Batch) (time.Duration, error) {
	var total time.Duration
	for i := range TimedSteps + 1 {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("estimate: interrupted: %w", err)
		}
		start := time.Now()
		if _, err := step(batch); err != nil { // reading the loss waits for the step to finish
			return 0, fmt.Errorf("estimate: timing a step: %w", err)
		}
		if i > 0 {
			total += time.Since(start)
		}
	}
	return total / TimedSteps, nil
}

// syntheticBatch is n images of normally distributed pixels (as normalised images are) with labels 0 and 1.
func syntheticBatch(n, size int) dataloader.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	b := dataloader.Batch{Images: make([]float32, n*size*size*3), N: n, H: size, W: size, Labels: make([]int, n)}
	for i := range b.Images {
		b.Images[i] = float32(rng.NormFloat64())
	}
	for i := range b.Labels {
		b.Labels[i] = i % 2
	}
	return b
}

// steps is the number of batches over images.
func (r Run) steps(images int) int { return (images + r.Batch - 1) / r.Batch }

// Epoch is the expected time of one epoch of scenario: its training phase and a validation phase.
func (e Estimate) Epoch(scenario train.Scenario) time.Duration {
	return time.Duration(e.Run.steps(e.Run.TrainImages))*e.TrainStep[scenario] +
		time.Duration(e.Run.steps(e.Run.ValImages))*e.EvalStep
}

// Total is the expected time of the whole run: every scenario's epochs.
func (e Estimate) Total() time.Duration {
	var total time.Duration
	for _, scenario := range e.Run.Scenarios {
		total += time.Duration(e.Run.Epochs) * e.Epoch(scenario)
	}
	return total
}

// scenarioNames are the scenarios as the tutorial names them.
var scenarioNames = map[train.Scenario]string{train.FineTune: "fine-tuning",
	train.FixedFeatureExtractor: "fixed feature extractor"}

// String says what was measured and what it means for the run, in a few lines.
func (e Estimate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Estimated time on this machine (mean of %d timed steps after a warm-up, batches of %d "+
		"%d×%d images):\n", TimedSteps, e.Run.Batch, e.Run.ImageSize, e.Run.ImageSize)
	for _, scenario := range e.Run.Scenarios {
		fmt.Fprintf(&b, "  %s: %.2f s per training step, %.2f s per validation step → %s per epoch "+
			"(%d + %d images), %s for %s\n", scenarioNames[scenario], e.TrainStep[scenario].Seconds(),
			e.EvalStep.Seconds(), human(e.Epoch(scenario)), e.Run.TrainImages, e.Run.ValImages,
			human(time.Duration(e.Run.Epochs)*e.Epoch(scenario)), epochs(e.Run.Epochs))
	}
	if len(e.Run.Scenarios) > 1 {
		fmt.Fprintf(&b, "  both: about %s in all\n", human(e.Total()))
	}
	b.WriteString("  (the steps alone: loading the images shares the cores, so expect somewhat more)")
	return b.String()
}

// epochs is "1 epoch" or "n epochs".
func epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

// human writes a duration with its meaningful digits: "40 s", "95 s", "24 min", "1 h 05 min".
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0f min", d.Minutes())
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int((d % time.Hour).Minutes()))
}

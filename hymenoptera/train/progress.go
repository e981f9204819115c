package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress shows a training run as it goes: TrainModel (and the notebooks' loop) report every batch's result,
// every completed epoch's history, and the end. The terminal's bar is NewTerminalProgress; a notebook's display,
// updated in place, is viz.NewTrainingProgress.
type Progress interface {
	// Batch reports one step's result in a phase ("train" or "val") of a 0-based epoch.
	Batch(phase string, epoch int, r StepResult)
	// Epoch reports the history after an epoch completed.
	Epoch(h History)
	// Finish reports the end of the run.
	Finish(h History) error
}

// PhaseTally accumulates a phase's step results into its running mean loss and accuracy, as the tutorial's
// running_loss and running_corrects do. A new phase or epoch starts it over.
type PhaseTally struct {
	Phase          string
	Epoch, Batches int // the phase being tallied, and batches tallied so far
	LossSum        float64
	Correct, Count int
}

// Add tallies one step's result, starting over when the phase or epoch changed.
func (t *PhaseTally) Add(phase string, epoch int, r StepResult) {
	if phase != t.Phase || epoch != t.Epoch {
		*t = PhaseTally{Phase: phase, Epoch: epoch}
	}
	t.Batches++
	t.LossSum += r.Loss * float64(r.Count)
	t.Correct += r.Correct
	t.Count += r.Count
}

// Loss and Accuracy are the running means (0 before any sample).
func (t *PhaseTally) Loss() float64     { return t.LossSum / float64(max(t.Count, 1)) }
func (t *PhaseTally) Accuracy() float64 { return float64(t.Correct) / float64(max(t.Count, 1)) }

// terminalProgress draws one progress line per phase, rewritten in place with '\r', and erases it when the phase
// ends so that the epoch log that follows starts clean.
type terminalProgress struct {
	w         io.Writer
	batches   map[string]int
	tally     PhaseTally
	lastDrawn time.Time
}

const progressBarWidth = 30

// NewTerminalProgress draws a bar on w for phases of trainBatches and valBatches batches.
func NewTerminalProgress(w io.Writer, trainBatches, valBatches int) Progress {
	return &terminalProgress{w: w, batches: map[string]int{PhaseTrain: trainBatches, PhaseVal: valBatches}}
}

func (p *terminalProgress) Batch(phase string, epoch int, r StepResult) {
	p.tally.Add(phase, epoch, r)
	total, done := p.batches[phase], p.tally.Batches
	now := time.Now()
	if done >= total {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
		return
	}
	if now.Sub(p.lastDrawn) < 250*time.Millisecond {
		return
	}
	p.lastDrawn = now
	filled := progressBarWidth * done / max(total, 1)
	fmt.Fprintf(p.w, "\r%-5s %4d/%-4d [%s%s] loss %.4f acc %.4f", phase, done, total,
		strings.Repeat("=", filled), strings.Repeat(" ", progressBarWidth-filled), p.tally.Loss(), p.tally.Accuracy())
}

func (p *terminalProgress) Epoch(History) {}

func (p *terminalProgress) Finish(History) error { return nil }

// Silent is a Progress that shows nothing (benchmarks, tests).
var Silent Progress = silent{}

type silent struct{}

func (silent) Batch(string, int, StepResult) {}
func (silent) Epoch(History)                 {}
func (silent) Finish(History) error          { return nil }

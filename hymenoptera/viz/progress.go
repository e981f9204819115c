package viz

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/progress"

	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// TrainingProgress is a training cell's progress in a notebook: one output, updated in place, with the epoch, the
// phase, the running loss and accuracy, the time left and the training curves so far. Finish turns it into a
// one-line summary and shows the final curves as a figure, so the saved notebook keeps one small progress output
// and one image. Outside a notebook it draws the terminal's progress bar instead (train.NewTerminalProgress) and
// saves the curves as a file at the end.
//
// The output's HTML carries its state as a progress.Report, which `go run ./kernel run` mirrors on the terminal.
type TrainingProgress struct {
	display  *Display
	title    string
	epochs   int
	batches  map[string]int
	terminal train.Progress // outside a notebook

	id         string // the notebook output
	tally      train.PhaseTally
	start      time.Time
	epochStart time.Time
	epochSecs  float64 // the last completed epoch's duration
	curves     string  // the curves so far, inline SVG
	lastSent   time.Time
	err        error // the first failure, reported by Finish
}

// progressInterval is the least time between two updates of the notebook output within a phase.
const progressInterval = 500 * time.Millisecond

// NewTrainingProgress starts the progress of a training titled title (the scenario's name) of epochs epochs,
// whose phases have trainBatches and valBatches batches, shown with the Default display.
func NewTrainingProgress(title string, epochs, trainBatches, valBatches int) *TrainingProgress {
	return Default.NewTrainingProgress(title, epochs, trainBatches, valBatches)
}

// NewTrainingProgress is NewTrainingProgress shown with d.
func (d *Display) NewTrainingProgress(title string, epochs, trainBatches, valBatches int) *TrainingProgress {
	p := &TrainingProgress{display: d, title: title, epochs: epochs, start: time.Now(), epochStart: time.Now(),
		batches: map[string]int{train.PhaseTrain: trainBatches, train.PhaseVal: valBatches}}
	if d.inNotebook() {
		p.send(p.state(train.PhaseTrain)) // the output appears above the epoch log that follows
	} else {
		p.terminal = train.NewTerminalProgress(os.Stderr, trainBatches, valBatches)
	}
	return p
}

// Batch tallies a step's result and updates the output (at most twice a second, and at a phase's end).
func (p *TrainingProgress) Batch(phase string, epoch int, r train.StepResult) {
	if p.terminal != nil {
		p.terminal.Batch(phase, epoch, r)
		return
	}
	p.tally.Add(phase, epoch, r)
	if p.tally.Batches < p.batches[phase] && time.Since(p.lastSent) < progressInterval {
		return
	}
	p.send(p.state(phase))
}

// Epoch times the epoch that ended and redraws the curves from h.
func (p *TrainingProgress) Epoch(h train.History) {
	now := time.Now()
	p.epochSecs, p.epochStart = now.Sub(p.epochStart).Seconds(), now
	if p.terminal != nil {
		return
	}
	var b bytes.Buffer
	if err := CurvesFigure(h, p.title).Encode(&b); err != nil {
		p.fail(err)
		return
	}
	p.curves = b.String()
	s := p.state(train.PhaseVal)
	s.Epoch = len(h.Epochs) - 1
	s.ETA = float64(p.epochs-len(h.Epochs)) * p.epochSecs // the epoch that ended is not to come
	p.send(s)
}

// Finish leaves a one-line summary in the output and shows the final curves as a figure (saves them, outside a
// notebook). It returns the first error of any update.
func (p *TrainingProgress) Finish(h train.History) error {
	if p.terminal == nil {
		p.curves = ""
		s := p.state("done")
		s.Epoch, s.ETA = p.epochs-1, 0
		if best, ok := h.Best(); ok {
			s.Loss, s.Acc, s.BestEpoch = best.Val.Loss, best.Val.Accuracy, best.Epoch
		}
		p.send(s)
	}
	if len(h.Epochs) > 0 {
		if err := p.display.Show(CurvesFigure(h, p.title+": loss and accuracy")); err != nil {
			p.fail(err)
		}
	}
	return p.err
}

func (p *TrainingProgress) state(phase string) progress.Report {
	eta := -1.0
	if p.epochSecs > 0 {
		remaining := p.epochs - p.tally.Epoch
		eta = max(float64(remaining)*p.epochSecs-time.Since(p.epochStart).Seconds(), 0)
	}
	return progress.Report{Title: p.title, Epoch: p.tally.Epoch, Epochs: p.epochs, Phase: phase,
		Batch: p.tally.Batches, Batches: p.batches[phase], Loss: p.tally.Loss(), Acc: p.tally.Accuracy(),
		Elapsed: time.Since(p.start).Seconds(), EpochSeconds: p.epochSecs, ETA: eta, BestEpoch: -1}
}

func (p *TrainingProgress) send(s progress.Report) {
	p.lastSent = time.Now()
	out := p.display.output()
	if p.id == "" {
		p.id = out.newID()
	}
	if err := out.update(p.id, progressHTML(s, p.curves)); err != nil {
		p.fail(err)
	}
}

func (p *TrainingProgress) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// progressHTML renders the state as a status line (and the curves so far, when there are some).
func progressHTML(s progress.Report, curves string) string {
	var line string
	switch {
	case s.Phase == "done" && s.BestEpoch >= 0:
		line = fmt.Sprintf("%s: %d epoch(s) done in %s; best val acc %.4f (loss %.4f) at epoch %d", s.Title,
			s.Epochs, clock(s.Elapsed), s.Acc, s.Loss, s.BestEpoch)
	case s.Phase == "done":
		line = fmt.Sprintf("%s: %d epoch(s) done in %s", s.Title, s.Epochs, clock(s.Elapsed))
	default:
		line = fmt.Sprintf("%s: epoch %d/%d, %s %d/%d", s.Title, s.Epoch, s.Epochs-1, s.Phase, s.Batch, s.Batches)
		if s.Batch > 0 { // a phase starting has no loss yet
			line += fmt.Sprintf(", loss %.4f, acc %.4f", s.Loss, s.Acc)
		}
		line += ", elapsed " + clock(s.Elapsed)
		if s.ETA >= 0 {
			line += ", about " + clock(s.ETA) + " left"
		}
	}
	inner := html.EscapeString(line)
	if curves != "" {
		inner += "<div>" + curves + "</div>"
	}
	return s.HTML(inner)
}

// clock writes seconds as 1h02m03s, 2m03s or 3s.
func clock(seconds float64) string {
	d := time.Duration(seconds+0.5) * time.Second
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

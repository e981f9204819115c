package viz

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/progress"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

var progressAttr = regexp.MustCompile(`^<div class="hymenoptera-progress" data-progress="([^"]*)"[^>]*>([^<]*)`)

// progressKeys are the fields of data-progress that `go run ./kernel run` reads.
var progressKeys = []string{"acc", "batch", "batches", "best_epoch", "elapsed", "epoch", "epoch_seconds", "epochs", "eta",
	"loss", "phase", "title"}

// shownProgress reads a progress output's HTML: its data-progress state, its status line and the curves it
// shows ("" when none).
func shownProgress(t *testing.T, out string) (state progress.Report, line, curves string) {
	t.Helper()
	m := progressAttr.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no hymenoptera-progress div with data-progress: %.200s", out)
	}
	data := []byte(html.UnescapeString(m[1]))
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatalf("data-progress is not JSON: %v: %s", err, data)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	if slices.Sort(keys); !slices.Equal(keys, progressKeys) {
		t.Fatalf("data-progress has fields %q, want %q", keys, progressKeys)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	if start, end := strings.Index(out, "<svg"), strings.LastIndex(out, "</svg>"); start >= 0 && end > start {
		curves = out[start : end+len("</svg>")]
	}
	return state, html.UnescapeString(m[2]), curves
}

// curvePoints checks that curves is inline SVG (no XML declaration) of the loss and accuracy curves and returns
// the number of points of each curve (its markers; one point draws no line).
func curvePoints(t *testing.T, out, curves string) int {
	t.Helper()
	if curves == "" || strings.Contains(out, "<?xml") {
		t.Fatalf("no inline SVG curves: %.300s", out)
	}
	doc := parseSVG(t, []byte(curves))
	points := doc.markers / 4
	if doc.markers == 0 || doc.markers%4 != 0 || (points > 1) != (len(doc.polylines) == 4) ||
		(points > 1 && len(doc.polylines[0].points) != points) {
		t.Fatalf("the curves have %d markers and %d polylines, want train and val for loss and for accuracy",
			doc.markers, len(doc.polylines))
	}
	return points
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestTrainingProgressInNotebookUpdatesOneOutput(t *testing.T) {
	notebook := &recorder{}
	d := &Display{Mode: Notebook, notebook: notebook}
	p := d.NewTrainingProgress("Fine-tuning", 2, 2, 1)
	var tracker train.Progress = p // what TrainModel takes
	// The output appears at once, before any batch, so that it stands above the epoch log.
	if len(notebook.events) != 1 || notebook.events[0].kind != "update" {
		t.Fatalf("NewTrainingProgress sent %+v, want one update", notebook.events)
	}
	if got, _, curves := shownProgress(t, string(notebook.events[0].data)); got.Phase != "train" || got.Batch != 0 ||
		got.ETA != -1 || curves != "" {
		t.Fatalf("the first progress is %+v, curves %.50q", got, curves)
	}

	// Each step below sends one update (the first batch, a phase's last batch, an epoch's end), except a batch
	// within a phase less than half a second after the last update, which may be held back (throttled). want is
	// the state it shows, epoch_seconds and eta checked apart; curves is the number of epochs its curves show.
	type step struct {
		do        func()
		throttled bool
		want      progress.Report
		line      string
		curves    int
	}
	batch := func(phase string, epoch int, loss float64, correct, count int) func() {
		return func() { tracker.Batch(phase, epoch, train.StepResult{Loss: loss, Correct: correct, Count: count}) }
	}
	epoch := func(n int) func() { return func() { tracker.Epoch(history(n)) } }
	shown := func(epoch int, phase string, batch, batches int, loss, acc float64) progress.Report {
		return progress.Report{Epoch: epoch, Phase: phase, Batch: batch, Batches: batches, Loss: loss, Acc: acc,
			BestEpoch: -1}
	}
	const train0, val0, train1, val1 = "epoch 0/1, train", "epoch 0/1, val", "epoch 1/1, train", "epoch 1/1, val"
	steps := []step{
		{batch(train.PhaseTrain, 0, 0.8, 3, 4), true, shown(0, "train", 1, 2, 0.8, 0.75), train0 + " 1/2, loss 0.8000, acc 0.7500", 0},
		{batch(train.PhaseTrain, 0, 0.5, 0, 2), false, shown(0, "train", 2, 2, 0.7, 0.5), train0 + " 2/2, loss 0.7000, acc 0.5000", 0},
		{batch(train.PhaseVal, 0, 0.25, 4, 4), false, shown(0, "val", 1, 1, 0.25, 1), val0 + " 1/1, loss 0.2500, acc 1.0000", 0},
		{epoch(1), false, shown(0, "val", 1, 1, 0.25, 1), val0 + " 1/1, loss 0.2500, acc 1.0000", 1},
		{batch(train.PhaseTrain, 1, 0.4, 1, 4), true, shown(1, "train", 1, 2, 0.4, 0.25), train1 + " 1/2, loss 0.4000, acc 0.2500", 1},
		{batch(train.PhaseTrain, 1, 0.2, 3, 4), false, shown(1, "train", 2, 2, 0.3, 0.5), train1 + " 2/2, loss 0.3000, acc 0.5000", 1},
		{batch(train.PhaseVal, 1, 0.1, 2, 2), false, shown(1, "val", 1, 1, 0.1, 1), val1 + " 1/1, loss 0.1000, acc 1.0000", 1},
		{epoch(2), false, shown(1, "val", 1, 1, 0.1, 1), val1 + " 1/1, loss 0.1000, acc 1.0000", 2},
	}
	var elapsed float64
	for i, s := range steps {
		before := len(notebook.events)
		s.do()
		if s.throttled && len(notebook.events) == before {
			continue
		}
		if len(notebook.events) != before+1 || notebook.events[before].kind != "update" {
			t.Fatalf("step %d: the notebook got %+v, want one update", i, notebook.events[before:])
		}
		out := string(notebook.events[before].data)
		got, line, curves := shownProgress(t, out)
		s.want.Title, s.want.Epochs = "Fine-tuning", 2
		s.want.Elapsed, s.want.EpochSeconds, s.want.ETA = got.Elapsed, got.EpochSeconds, got.ETA
		if !near(got.Loss, s.want.Loss) || !near(got.Acc, s.want.Acc) {
			t.Fatalf("step %d: loss %v, acc %v, want %v and %v", i, got.Loss, got.Acc, s.want.Loss, s.want.Acc)
		}
		got.Loss, got.Acc = s.want.Loss, s.want.Acc
		if got != s.want {
			t.Fatalf("step %d: the progress is %+v, want %+v", i, got, s.want)
		}
		if want := "Fine-tuning: " + s.line + ", elapsed "; !strings.HasPrefix(line, want) {
			t.Errorf("step %d: the status line is %q, want it to start %q", i, line, want)
		}
		if got.Elapsed < elapsed {
			t.Errorf("step %d: elapsed went from %v down to %v", i, elapsed, got.Elapsed)
		}
		elapsed = got.Elapsed
		// Before the first epoch ends the time left is unknown (-1), and said nowhere.
		if epochDone := i >= 3; epochDone != (got.ETA >= 0) || epochDone != (got.EpochSeconds > 0) ||
			got.ETA < -1 || epochDone != strings.Contains(line, " left") {
			t.Errorf("step %d: eta %v, epoch_seconds %v, line %q", i, got.ETA, got.EpochSeconds, line)
		}
		if s.curves == 0 && curves != "" {
			t.Errorf("step %d: curves before any epoch ended", i)
		}
		if s.curves > 0 {
			if n := curvePoints(t, out, curves); n != s.curves {
				t.Errorf("step %d: the curves show %d epochs, want %d", i, n, s.curves)
			}
		}
	}

	before := len(notebook.events)
	if err := tracker.Finish(history(2)); err != nil {
		t.Fatal(err)
	}
	finished := notebook.events[before:]
	if len(finished) != 2 || finished[0].kind != "update" || finished[1].kind != "image" || finished[1].ext != ".svg" {
		t.Fatalf("Finish sent %+v, want an update and then the curves as an SVG image", finished)
	}
	got, line, curves := shownProgress(t, string(finished[0].data))
	best, _ := history(2).Best()
	if got.Phase != "done" || got.Epoch != 1 || got.Epochs != 2 || got.ETA != 0 || curves != "" ||
		got.BestEpoch != best.Epoch || got.Acc != best.Val.Accuracy || got.Loss != best.Val.Loss {
		t.Fatalf("the final progress is %+v with curves %.50q: want done, epoch 1 of 2, nothing left, no curves, "+
			"the best epoch %+v", got, curves, best)
	}
	if !strings.HasPrefix(line, "Fine-tuning: 2 epoch(s) done in ") || !strings.Contains(line,
		fmt.Sprintf("best val acc %.4f (loss %.4f) at epoch %d", best.Val.Accuracy, best.Val.Loss, best.Epoch)) {
		t.Errorf("the summary is %q", line)
	}
	doc := parseSVG(t, finished[1].data)
	if len(doc.polylines) != 4 || len(doc.polylines[0].points) != 2 || !doc.hasText("Fine-tuning: loss and accuracy") {
		t.Fatalf("the final figure has %d polylines, texts %q", len(doc.polylines), doc.texts)
	}
	for i, e := range notebook.events[:len(notebook.events)-1] {
		if e.kind != "update" || e.id != "output-1" {
			t.Fatalf("event %d is %s of %q: want every update but the final figure on the one output", i, e.kind, e.id)
		}
	}
	if notebook.ids != 1 {
		t.Fatalf("%d outputs created, want 1", notebook.ids)
	}
}

func TestTrainingProgressFinishWithoutEpochs(t *testing.T) {
	notebook := &recorder{}
	d := &Display{Mode: Notebook, notebook: notebook}
	if err := d.NewTrainingProgress("", 3, 1, 1).Finish(train.History{}); err != nil {
		t.Fatal(err)
	}
	if len(notebook.events) != 2 || notebook.events[1].kind != "update" {
		t.Fatalf("a progress finished without epochs sent %+v, want the first state, the summary and no figure",
			notebook.events)
	}
	if got, _, curves := shownProgress(t, string(notebook.events[1].data)); got.Phase != "done" || curves != "" {
		t.Fatalf("the progress is %+v, curves %.50q", got, curves)
	}

	files, log := filesDisplay(t)
	if err := files.NewTrainingProgress("", 3, 1, 1).Finish(train.History{}); err != nil {
		t.Fatal(err)
	}
	if saved, _ := os.ReadDir(files.Dir); len(saved) != 0 || log.Len() != 0 {
		t.Fatalf("Finish without epochs saved %v and printed %q", saved, log.String())
	}
}

func TestTrainingProgressOutsideNotebookSavesTheCurvesAtFinish(t *testing.T) {
	d, log := filesDisplay(t)
	p := d.NewTrainingProgress("Fine-tuning", 2, 1, 1)
	for epoch := range 2 {
		p.Batch(train.PhaseTrain, epoch, train.StepResult{Loss: 0.5, Correct: 1, Count: 2})
		p.Batch(train.PhaseVal, epoch, train.StepResult{Loss: 0.5, Correct: 1, Count: 2})
		p.Epoch(history(epoch + 1))
		if saved, _ := os.ReadDir(d.Dir); len(saved) != 0 {
			t.Fatalf("epoch %d: saved %v before Finish", epoch, saved)
		}
	}
	if err := p.Finish(history(2)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir, "fine-tuning-loss-and-accuracy.svg")
	if want := "figure saved to " + path + "\n"; log.String() != want {
		t.Fatalf("printed %q, want %q", log.String(), want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc := parseSVG(t, data); len(doc.polylines) != 4 || len(doc.polylines[0].points) != 2 {
		t.Fatal("the file does not hold the final history's curves")
	}
	if saved, _ := os.ReadDir(d.Dir); len(saved) != 1 {
		t.Fatalf("the figures directory holds %v, want the curves only", saved)
	}
}

// brokenNotebook is a notebook whose connection failed.
type brokenNotebook struct{ recorder }

func (*brokenNotebook) update(string, string) error { return errors.New("connection lost") }

func TestTrainingProgressFinishReportsAFailedUpdate(t *testing.T) {
	d := &Display{Mode: Notebook, notebook: &brokenNotebook{}}
	p := d.NewTrainingProgress("", 1, 1, 1)
	p.Batch(train.PhaseTrain, 0, train.StepResult{Loss: 1, Count: 1})
	if err := p.Finish(history(1)); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("Finish returned %v, want the failed update's error", err)
	}
}

// TestProgressLineBeforeTheFirstBatch: a phase that has not run a batch yet shows no loss or accuracy (they
// would read 0.0000 and 0%), and one that has shows both.
func TestProgressLineBeforeTheFirstBatch(t *testing.T) {
	starting := progress.Report{Title: "finetune", Epochs: 25, Phase: "train", Batches: 61}
	if line := progressHTML(starting, ""); strings.Contains(line, ", loss") || strings.Contains(line, ", acc") {
		t.Errorf("before the first batch: %s", line)
	}
	running := starting
	running.Batch, running.Loss, running.Acc = 1, 0.7, 0.5
	if line := progressHTML(running, ""); !strings.Contains(line, "loss 0.7000, acc 0.5000") {
		t.Errorf("after a batch: %s", line)
	}
}

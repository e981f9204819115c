package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"
)

// planFixture is a notebook shaped like the tutorial: set-up code before any heading, sections, an empty code
// cell (nbclient skips it), and two training cells.
const planFixture = `{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
 {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["%%\n", "fmt.Println(\"setup\")\n"]},
 {"cell_type": "markdown", "metadata": {}, "source": "# Transfer learning\n\nText.\n\n## Load data\n"},
 {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import \"x\""},
 {"cell_type": "code", "metadata": {}, "outputs": [], "source": "  \n"},
 {"cell_type": "markdown", "metadata": {}, "source": "### Finetuning the ConvNet ###\nNo heading #here"},
 {"cell_type": "code", "metadata": {"tags": ["training"]}, "outputs": [], "source": "%%\ntrain()"},
 {"cell_type": "markdown", "metadata": {}, "source": "#hashtag, not a heading\n## ConvNet as fixed feature extractor"},
 {"cell_type": "code", "metadata": {"tags": ["other", "training"]}, "outputs": [], "source": "%%\ntrain()"},
 {"cell_type": "code", "metadata": {}, "outputs": [], "source": "%%\nvisualize()"}
]}`

func TestPlanNotebook(t *testing.T) {
	p, err := planNotebook([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	want := []plannedCell{
		{0, `fmt.Println("setup")`, false},
		{2, "Load data", false},
		{5, "Finetuning the ConvNet", true},
		{7, "ConvNet as fixed feature extractor", true},
		{8, "ConvNet as fixed feature extractor", false},
	}
	if fmt.Sprint(p.Cells) != fmt.Sprint(want) {
		t.Errorf("plan = %v\nwant %v", p.Cells, want)
	}
	if got := p.Position(5); got != "[3/5] Finetuning the ConvNet" {
		t.Errorf("Position(5) = %q", got)
	}
	if got := p.Position(3); got != "cell 3" {
		t.Errorf("Position(3) of the empty cell = %q", got)
	}
}

// progressHTML is a progress display as progress-protocol.md defines it.
func progressHTML(r trainingReport) string {
	data, _ := json.Marshal(r)
	return fmt.Sprintf(`<div class="hymenoptera-progress" data-progress="%s"><b>%s</b> epoch %d</div>`,
		html.EscapeString(string(data)), r.Title, r.Epoch)
}

func TestParseTrainingReport(t *testing.T) {
	want := trainingReport{Title: `fine"tune`, Epoch: 1, Epochs: 3, Phase: "val", Batch: 2, Batches: 5, Loss: 0.25,
		Acc: 0.75, Elapsed: 12.5, EpochSeconds: 6, ETA: 9}
	got, err := parseTrainingReport("<p>before</p>" + progressHTML(want))
	if err != nil || got != want {
		t.Errorf("parseTrainingReport = %+v, %v; want %+v", got, err, want)
	}
	swapped := `<div data-progress="{&quot;title&quot;:&quot;x&quot;,&quot;eta&quot;:-1}" class="hymenoptera-progress">`
	if got, err := parseTrainingReport(swapped); err != nil || got.Title != "x" || got.ETA != -1 {
		t.Errorf("attributes in the other order: %+v, %v", got, err)
	}
	for _, bad := range []string{`<div class="other" data-progress="{}">`, `<div class="hymenoptera-progress" data-progress="{nope">`} {
		if _, err := parseTrainingReport(bad); err == nil {
			t.Errorf("parseTrainingReport(%q) succeeded", bad)
		}
	}
}

// fakeClock is a clock the test advances.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time           { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// recordedRun replays the events of a run of planFixture: one second per cell, except the training cells,
// which report 2 epochs of 2 batches each, 4 seconds apart (8 s an epoch).
func recordedRun(t *testing.T, v *progressView, clock *fakeClock) {
	t.Helper()
	for _, index := range []int{0, 2, 5, 7, 8} {
		v.Handle(driverEvent{Event: "cell", Cell: index})
		if index == 5 || index == 7 {
			title := map[int]string{5: "finetune", 7: "fixed"}[index]
			epochSeconds, eta := 0.0, -1.0
			for epoch := 0; epoch < 2; epoch++ {
				for batch := 1; batch <= 2; batch++ {
					clock.advance(4 * time.Second)
					r := trainingReport{Title: title, Epoch: epoch, Epochs: 2, Phase: "train", Batch: batch,
						Batches: 2, Loss: 1 / float64(batch+epoch), Acc: 0.5, EpochSeconds: epochSeconds, ETA: eta}
					v.Handle(driverEvent{Event: "display", Cell: index, HTML: progressHTML(r)})
				}
				epochSeconds, eta = 8, float64(8*(1-epoch))
			}
			done := trainingReport{Title: title, Epoch: 1, Epochs: 2, Phase: "done", Loss: 0.4, Acc: 0.8,
				EpochSeconds: 8, ETA: 0}
			v.Handle(driverEvent{Event: "display", Cell: index, HTML: progressHTML(done)})
		} else {
			clock.advance(time.Second)
		}
		v.Handle(driverEvent{Event: "executed", Cell: index})
	}
}

func TestProgressViewPlainLines(t *testing.T) {
	plan, err := planNotebook([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{time.Unix(1000, 0)}
	var out bytes.Buffer
	v := newProgressView(&out, false, 0, false, plan, clock.now)
	recordedRun(t, v, clock)
	v.Handle(driverEvent{Event: "warning", Text: "math left out"})
	clock.advance(time.Second)
	summary := v.Finish()
	// Training lines at most every plainEvery (10 s): the first report, then the one 12 s later, then "done".
	want := `[1/5] 0:00  fmt.Println("setup")
[2/5] 0:01  Load data
[3/5] 0:02  Finetuning the ConvNet
      finetune  epoch 1/2  train 1/2  loss 1.0000  acc 50.0%
      finetune  epoch 2/2  train 2/2  loss 0.3333  acc 50.0%  cell 0:08 left  run 0:24 left
      finetune  epoch 2/2  done  loss 0.4000  acc 80.0%
[4/5] 0:18  ConvNet as fixed feature extractor  (about 0:16 left)
      fixed  epoch 1/2  train 1/2  loss 1.0000  acc 50.0%  cell 0:16 left  run 0:16 left
      fixed  epoch 2/2  train 2/2  loss 0.3333  acc 50.0%  cell 0:08 left  run 0:08 left
      fixed  epoch 2/2  done  loss 0.4000  acc 80.0%
[5/5] 0:34  ConvNet as fixed feature extractor
      warning: math left out
`
	if out.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", out.String(), want)
	}
	if want := "ran 0:36; slowest: [3/5] Finetuning the ConvNet 0:16, [4/5] ConvNet as fixed feature extractor 0:16, " +
		`[1/5] fmt.Println("setup") 0:01`; summary != want {
		t.Errorf("summary = %q\nwant %q", summary, want)
	}
}

func TestProgressViewTerminalStatusLine(t *testing.T) {
	plan, err := planNotebook([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{time.Unix(1000, 0)}
	var out bytes.Buffer
	v := newProgressView(&out, true, 60, false, plan, clock.now)
	recordedRun(t, v, clock)
	v.Note("interrupting")
	v.Finish()
	text := out.String()
	// Every report rewrites the status line (5 per training cell); a line of its own clears it first.
	if n := strings.Count(text, "\r\x1b[K      finetune"); n != 5 {
		t.Errorf("%d finetune status lines, want 5:\n%q", n, text)
	}
	if !strings.Contains(text, "\r\x1b[K[4/5] 0:18  ConvNet as fixed feature extractor  (about 0:16 left)\n") {
		t.Errorf("the next cell's line does not clear the status line:\n%q", text)
	}
	for _, segment := range strings.Split(text, "\r\x1b[K") {
		if !strings.Contains(segment, "\n") && len([]rune(segment)) >= 60 { // a status line
			t.Errorf("status line %q is not cut to the terminal's 60 columns", segment)
		}
	}
	if !strings.HasSuffix(text, "[5/5] 0:34  ConvNet as fixed feature extractor\ninterrupting\n") {
		t.Errorf("output ends %q", text[max(0, len(text)-80):])
	}
}

func TestProgressViewQuiet(t *testing.T) {
	plan, err := planNotebook([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{time.Unix(1000, 0)}
	var out bytes.Buffer
	v := newProgressView(&out, true, 80, true, plan, clock.now)
	recordedRun(t, v, clock)
	v.Note("interrupting")
	if v.Finish() == "" || out.Len() != 0 {
		t.Errorf("quiet view printed %q", out.String())
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 1499 * time.Millisecond: "0:01", 61 * time.Second: "1:01",
		3723 * time.Second: "1:02:03", -time.Second: "0:00"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

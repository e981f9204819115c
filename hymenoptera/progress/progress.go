// Package progress is the training-progress report that a notebook's training cell shows in its progress display
// (viz.TrainingProgress writes it) and that `go run ./kernel run` reads back to mirror the training on the
// terminal: one JSON object in the data-progress attribute of the display's element of class
// hymenoptera-progress. One definition serves both sides, so that they cannot drift apart.
package progress

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
)

// Report is the state of a training at one moment.
type Report struct {
	Title        string  `json:"title"`         // the scenario, e.g. "finetune"
	Epoch        int     `json:"epoch"`         // 0-based
	Epochs       int     `json:"epochs"`        // of this training
	Phase        string  `json:"phase"`         // "train", "val", or "done"
	Batch        int     `json:"batch"`         // batches done in this phase
	Batches      int     `json:"batches"`       // in this phase
	Loss         float64 `json:"loss"`          // running mean loss of this phase
	Acc          float64 `json:"acc"`           // running accuracy of this phase
	Elapsed      float64 `json:"elapsed"`       // seconds since the training started
	EpochSeconds float64 `json:"epoch_seconds"` // the last completed epoch's duration, 0 before one completed
	ETA          float64 `json:"eta"`           // seconds left in this training, -1 while unknown
	// BestEpoch is the epoch of the best validation accuracy, in the "done" state (whose Loss and Acc are that
	// epoch's validation figures); -1 before.
	BestEpoch int `json:"best_epoch"`
}

// Class is the class of the element that carries a report.
const Class = "hymenoptera-progress"

// HTML is the display's element: the report in its data-progress attribute around inner, the HTML a reader sees.
func (r Report) HTML(inner string) string {
	state, _ := json.Marshal(r) // plain numbers and strings: cannot fail
	return fmt.Sprintf(`<div class="%s" data-progress="%s" style="font-family:monospace">%s</div>`, Class,
		html.EscapeString(string(state)), inner)
}

// element finds the data-progress attribute, HTML-escaped, of the element of class Class, in either order.
var element = regexp.MustCompile(`<[^>]*\bclass="` + Class + `"[^>]*\bdata-progress="([^"]*)"|` +
	`<[^>]*\bdata-progress="([^"]*)"[^>]*\bclass="` + Class + `"`)

// Parse reads the report in a progress display's HTML.
func Parse(text string) (Report, error) {
	m := element.FindStringSubmatch(text)
	if m == nil {
		return Report{}, fmt.Errorf("no %s element with data-progress in %.80q", Class, text)
	}
	var r Report
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1]+m[2])), &r); err != nil {
		return Report{}, fmt.Errorf("data-progress of a progress display: %w", err)
	}
	return r, nil
}

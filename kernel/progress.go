package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hymenoptera-go/tutorial/hymenoptera/progress"
)

// driverEvent is one line that execute.py writes on its events pipe as the notebook runs.
type driverEvent struct {
	Event string `json:"event"` // "kernel", "cell", "display", "executed" or "warning"
	Cell  int    `json:"cell"`  // the cell's index in the notebook (cell, display, executed)
	HTML  string `json:"html"`  // a progress display's text/html (display)
	Text  string `json:"text"`  // warning
	PGID  int    `json:"pgid"`  // the kernel's process group (kernel)
}

// plannedCell is one code cell the run will execute, as the progress lines name it.
type plannedCell struct {
	Index    int    // in the notebook, counting all cells
	Title    string // its section's heading, or its own first line
	Training bool   // tagged "training"
}

// notebookPlan is the list of code cells a notebook run executes, read from the source notebook.
type notebookPlan struct {
	Cells   []plannedCell
	byIndex map[int]int // notebook index → position in Cells
}

// planNotebook lists the code cells of an nbformat 4 notebook that nbclient executes (those with some source),
// each under the heading of the section it belongs to.
func planNotebook(data []byte) (*notebookPlan, error) {
	var nb struct {
		Cells []struct {
			Type     string          `json:"cell_type"`
			Source   json.RawMessage `json:"source"`
			Metadata struct {
				Tags []string `json:"tags"`
			} `json:"metadata"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("not a Jupyter notebook: %w", err)
	}
	p := &notebookPlan{byIndex: map[int]int{}}
	heading := ""
	for i, c := range nb.Cells {
		source, err := sourceText(c.Source)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i, err)
		}
		switch {
		case c.Type == "markdown":
			if h := lastHeading(source); h != "" {
				heading = h
			}
		case c.Type == "code" && strings.TrimSpace(source) != "":
			title := heading
			if title == "" {
				title = firstLine(source)
			}
			training := false
			for _, tag := range c.Metadata.Tags {
				training = training || tag == "training"
			}
			p.byIndex[i] = len(p.Cells)
			p.Cells = append(p.Cells, plannedCell{Index: i, Title: title, Training: training})
		}
	}
	return p, nil
}

// sourceText decodes nbformat's multi-line string: one string, or a list of lines to concatenate.
func sourceText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return "", fmt.Errorf("source is neither a string nor a list of strings: %.40s", raw)
	}
	return strings.Join(lines, ""), nil
}

// lastHeading returns the text of a markdown cell's last ATX heading ("## Training" → "Training").
func lastHeading(markdown string) string {
	heading := ""
	for _, line := range strings.Split(markdown, "\n") {
		line = strings.TrimSpace(line)
		text := strings.TrimLeft(line, "#")
		if len(text) < len(line) && len(line)-len(text) <= 6 && (text == "" || text[0] == ' ') {
			if text = strings.TrimSpace(strings.TrimRight(text, "# ")); text != "" {
				heading = text
			}
		}
	}
	return heading
}

// firstLine returns a code cell's first line that says something: not blank, not GoNB's "%%".
func firstLine(source string) string {
	for _, line := range strings.Split(source, "\n") {
		if line = strings.TrimSpace(line); line != "" && line != "%%" {
			return line
		}
	}
	return ""
}

// Position returns "[k/N] title" for the code cell at notebook index, or "cell index" if it is not planned.
func (p *notebookPlan) Position(index int) string {
	k, ok := p.byIndex[index]
	if !ok {
		return fmt.Sprintf("cell %d", index)
	}
	return fmt.Sprintf("[%d/%d] %s", k+1, len(p.Cells), p.Cells[k].Title)
}

// plainEvery is how often, at most, a training cell's progress is printed when standard output is not a
// terminal: CI logs stay short.
const plainEvery = 10 * time.Second

// slowestShown is how many cells the final summary names.
const slowestShown = 3

// cellTime is how long one code cell ran.
type cellTime struct {
	Position int
	Took     time.Duration
}

// progressView shows a notebook run on the terminal from the driver's events: one line per code cell as it
// starts, a training cell's progress (a status line rewritten in place on a terminal, plain lines at most every
// plainEvery otherwise) with the time left for the cell and the whole run, and at the end the total time and the
// slowest cells. It is safe for concurrent use: events arrive on one goroutine, signals on another.
type progressView struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int // the terminal's columns (0: unknown)
	quiet bool
	now   func() time.Time
	plan  *notebookPlan

	start, cellStart time.Time
	current          int // position in plan.Cells of the running cell, -1 before the first
	times            []cellTime
	statusShown      bool // a status line is on the terminal's last line
	lastPlain        time.Time

	epochs       int     // a training cell's epochs, from the first report
	epochSeconds float64 // the last epoch duration a report gave
}

func newProgressView(w io.Writer, tty bool, width int, quiet bool, plan *notebookPlan, now func() time.Time) *progressView {
	return &progressView{w: w, tty: tty, width: width, quiet: quiet, plan: plan, now: now, start: now(), current: -1}
}

// Handle shows one event.
func (v *progressView) Handle(e driverEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e.Event {
	case "cell":
		v.cellStarted(e.Cell)
	case "executed":
		if v.current >= 0 && v.plan.Cells[v.current].Index == e.Cell {
			v.times = append(v.times, cellTime{v.current, v.now().Sub(v.cellStart)})
		}
	case "display":
		r, err := progress.Parse(e.HTML)
		if err != nil {
			v.println("      progress display: " + err.Error())
			return
		}
		v.training(r)
	case "warning":
		v.println("      warning: " + e.Text)
	}
}

// Note prints a line of the run's own (an interruption, say), clearing the status line first.
func (v *progressView) Note(line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.println(line)
}

// Running returns "[k/N] title" of the running cell, or "" before the first.
func (v *progressView) Running() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.current < 0 {
		return ""
	}
	return v.plan.Position(v.plan.Cells[v.current].Index)
}

// Finish clears the status line and returns the summary: total time and the slowest cells.
func (v *progressView) Finish() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clearStatus()
	times := append([]cellTime(nil), v.times...)
	sort.SliceStable(times, func(i, j int) bool { return times[i].Took > times[j].Took })
	if len(times) > slowestShown {
		times = times[:slowestShown]
	}
	var slow []string
	for _, t := range times {
		slow = append(slow, fmt.Sprintf("%s %s", v.plan.Position(v.plan.Cells[t.Position].Index), clock(t.Took)))
	}
	summary := "took " + clock(v.now().Sub(v.start))
	if len(slow) > 0 {
		summary += "; slowest cells: " + strings.Join(slow, ", ")
	}
	return summary
}

func (v *progressView) cellStarted(index int) {
	v.cellStart = v.now()
	k, ok := v.plan.byIndex[index]
	if !ok { // nbclient ran a cell the plan does not list: still say so
		v.println(fmt.Sprintf("cell %d  %s", index, clock(v.cellStart.Sub(v.start))))
		return
	}
	v.current = k
	v.lastPlain = time.Time{}
	line := fmt.Sprintf("[%d/%d] %s  %s", k+1, len(v.plan.Cells), clock(v.cellStart.Sub(v.start)),
		v.plan.Cells[k].Title)
	if left, ok := v.runLeft(-1); ok && left > 0 {
		line += fmt.Sprintf("  (about %s left)", clock(left))
	}
	v.println(line)
}

// training shows a training report of the running cell.
func (v *progressView) training(r progress.Report) {
	if v.epochs == 0 {
		v.epochs = r.Epochs
	}
	if r.EpochSeconds > 0 {
		v.epochSeconds = r.EpochSeconds
	}
	cellLeft := r.ETA
	if cellLeft < 0 && v.epochSeconds > 0 && r.Phase != "done" {
		cellLeft = float64(r.Epochs-r.Epoch) * v.epochSeconds // from an earlier cell's epochs
	}
	if r.Phase == "done" {
		cellLeft = 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "      %s  epoch %d/%d  ", r.Title, min(r.Epoch+1, r.Epochs), r.Epochs)
	if r.Phase == "done" {
		b.WriteString("done")
	} else {
		fmt.Fprintf(&b, "%s %d/%d", r.Phase, r.Batch, r.Batches)
	}
	if r.Phase == "done" || r.Batch > 0 { // before a phase's first batch there is no loss to show
		fmt.Fprintf(&b, "  loss %.4f  acc %.1f%%", r.Loss, 100*r.Acc)
	}
	if cellLeft >= 0 && r.Phase != "done" {
		fmt.Fprintf(&b, "  cell %s left", clock(seconds(cellLeft)))
	}
	if left, ok := v.runLeft(cellLeft); ok && r.Phase != "done" {
		fmt.Fprintf(&b, "  run %s left", clock(left))
	}
	line := b.String()
	switch {
	case v.quiet:
	case r.Phase == "done": // the training's result stays on the screen
		v.println(line)
	case v.tty:
		v.status(line)
	case v.lastPlain.IsZero() || v.now().Sub(v.lastPlain) >= plainEvery:
		v.lastPlain = v.now()
		fmt.Fprintln(v.w, line)
	}
}

// runLeft estimates the time left for the whole notebook: the running cell's (cellLeft, negative when unknown
// or not a training cell) and that of the training cells still to start, at the last measured epoch duration.
// Cells that do not train are not counted: next to training they take seconds.
func (v *progressView) runLeft(cellLeft float64) (time.Duration, bool) {
	if v.epochSeconds <= 0 || v.epochs <= 0 {
		return 0, false
	}
	after := v.current
	if cellLeft < 0 {
		after = v.current - 1 // the running cell has not reported: count it as still to run
	}
	total := max(cellLeft, 0)
	for _, c := range v.plan.Cells[after+1:] {
		if c.Training {
			total += float64(v.epochs) * v.epochSeconds
		}
	}
	return seconds(total), true
}

// println prints a line of its own, above any status line.
func (v *progressView) println(line string) {
	if v.quiet {
		return
	}
	v.clearStatus()
	fmt.Fprintln(v.w, line)
}

// status rewrites the terminal's last line.
func (v *progressView) status(line string) {
	if v.width > 1 && utf8.RuneCountInString(line) >= v.width {
		line = string([]rune(line)[:v.width-1])
	}
	fmt.Fprint(v.w, "\r\x1b[K"+line)
	v.statusShown = true
}

func (v *progressView) clearStatus() {
	if v.statusShown {
		fmt.Fprint(v.w, "\r\x1b[K")
		v.statusShown = false
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// clock formats a duration as m:ss, or h:mm:ss from an hour on.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// out is where the run's own reports go (the screenshot's measures): nowhere with quiet.
func (v *progressView) out() io.Writer {
	if v.quiet {
		return io.Discard
	}
	return v.w
}

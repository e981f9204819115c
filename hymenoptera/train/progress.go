package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// phaseProgress draws one progress line per phase, rewritten in place with '\r': terminals and Jupyter's
// stream outputs both render it as a single updating line.
type phaseProgress struct {
	w         io.Writer
	phase     string
	total     int
	lastDrawn time.Time
}

const progressBarWidth = 30

func newPhaseProgress(w io.Writer, phase string, total int) *phaseProgress {
	return &phaseProgress{w: w, phase: phase, total: total}
}

// update redraws the line after `done` batches, at most a few times a second (and always for the last batch).
func (p *phaseProgress) update(done int, loss, accuracy float64) {
	now := time.Now()
	if done < p.total && now.Sub(p.lastDrawn) < 250*time.Millisecond {
		return
	}
	p.lastDrawn = now
	filled := progressBarWidth * done / max(p.total, 1)
	fmt.Fprintf(p.w, "\r%-5s %4d/%-4d [%s%s] loss %.4f acc %.4f", p.phase, done, p.total,
		strings.Repeat("=", filled), strings.Repeat(" ", progressBarWidth-filled), loss, accuracy)
}

// finish erases the line, so that the epoch log that follows starts clean.
func (p *phaseProgress) finish() {
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
}

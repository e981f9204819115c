package hub

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressInterval throttles redrawing: often enough to look alive, rarely enough not to flood a notebook's
// output with updates.
const progressInterval = 200 * time.Millisecond

// progressBar is an io.Writer that counts the bytes written through it and reports them on one line, redrawn in
// place by starting each update with '\r': terminals and Jupyter (GoNB's cell output) both render that as a line
// that updates, where ANSI cursor movements would garble a notebook.
type progressBar struct {
	w        io.Writer
	name     string
	total    int64 // -1 when unknown
	received int64
	start    time.Time
	lastDraw time.Time
	interval time.Duration
	width    int // of the last line drawn, to blank out what a shorter line leaves behind
}

func newProgressBar(w io.Writer, name string, total int64) *progressBar {
	return &progressBar{w: w, name: name, total: total, start: time.Now(), interval: progressInterval}
}

// Write counts p and redraws when the last update is older than the interval. It never fails: a broken progress
// output must not fail the download.
func (p *progressBar) Write(b []byte) (int, error) {
	p.received += int64(len(b))
	if now := time.Now(); now.Sub(p.lastDraw) >= p.interval {
		p.lastDraw = now
		p.draw(now)
	}
	return len(b), nil
}

// finish draws the final state and ends the line.
func (p *progressBar) finish() {
	p.draw(time.Now())
	fmt.Fprintln(p.w)
}

// draw writes "\r<name>  <percent>  <received> / <total>  <rate>", or without percent and total when the total is
// unknown.
func (p *progressBar) draw(now time.Time) {
	line := p.name + "  " + formatBytes(p.received)
	if p.total >= 0 {
		percent := int64(100)
		if p.total > 0 {
			percent = 100 * p.received / p.total
		}
		line = fmt.Sprintf("%s  %3d%%  %s / %s", p.name, percent, formatBytes(p.received), formatBytes(p.total))
	}
	if elapsed := now.Sub(p.start).Seconds(); elapsed > 0 {
		line += "  " + formatBytes(int64(float64(p.received)/elapsed)) + "/s"
	}
	blank := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", blank))
}

// formatBytes writes a byte count in binary units: "512 B", "1.5 KiB", "44.7 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	value, unit := float64(n)/1024, 0
	for value >= 1024 && unit < 3 {
		value /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %s", value, []string{"KiB", "MiB", "GiB", "TiB"}[unit])
}

package hub

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBarRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out, "resnet18.pth", 3000)
	bar.interval = 0 // Draw on every write.
	for range 3 {
		bar.Write(make([]byte, 1000))
	}
	bar.finish()
	updates := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\r")[1:]
	if len(updates) != 4 {
		t.Fatalf("%d updates in %q, want 3 writes and the final one", len(updates), out.String())
	}
	for i, want := range []string{" 33%  1000 B / 2.9 KiB", " 66%  2.0 KiB / 2.9 KiB", "100%  2.9 KiB / 2.9 KiB"} {
		if !strings.HasPrefix(updates[i], "resnet18.pth  "+want+"  ") || !strings.Contains(updates[i], "/s") {
			t.Errorf("update %d = %q, want name, %q and a rate", i, updates[i], want)
		}
	}
}

func TestProgressBarUnknownTotalAndShorterLines(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out, "data.zip", -1)
	bar.interval = 0
	bar.start = time.Now().Add(-time.Second)
	bar.Write(make([]byte, 5<<20))
	bar.received = 10 // A shorter line must blank out the end of the longer one before it.
	bar.draw(bar.start.Add(time.Second))
	updates := strings.Split(out.String(), "\r")[1:]
	if !strings.HasPrefix(updates[0], "data.zip  5.0 MiB  ") || strings.Contains(updates[0], "%") {
		t.Errorf("update %q: want name and bytes, no percent, for an unknown total", updates[0])
	}
	if len(updates[1]) != len(updates[0]) || !strings.HasPrefix(updates[1], "data.zip  10 B  10 B/s ") {
		t.Errorf("shorter update %q does not cover the previous %q", updates[1], updates[0])
	}
}

func TestProgressBarThrottles(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out, "f", 1<<20)
	for range 1000 {
		bar.Write(make([]byte, 1024))
	}
	if n := strings.Count(out.String(), "\r"); n > 2 {
		t.Errorf("%d redraws for 1000 quick writes, want the first only (throttled to one per %v)", n, progressInterval)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		44786953: "42.7 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

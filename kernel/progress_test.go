package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/progress"

	"golang.org/x/sys/unix"

	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
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

// fakeClock is a clock the test advances.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// recordedRun replays the events of a run of planFixture on a new view: one second per cell, except the
// training cells, which report 2 epochs of 2 batches each, 4 seconds apart (8 s an epoch). It returns the view,
// what it printed, and its clock.
func recordedRun(t *testing.T, tty bool, width int, quiet bool) (*progressView, *bytes.Buffer, *fakeClock) {
	t.Helper()
	plan, err := planNotebook([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{time.Unix(1000, 0)}
	var out bytes.Buffer
	v := newProgressView(&out, tty, width, quiet, plan, clock.now)
	for _, index := range []int{0, 2, 5, 7, 8} {
		v.Handle(driverEvent{Event: "cell", Cell: index})
		if index == 5 || index == 7 {
			title := map[int]string{5: "finetune", 7: "fixed"}[index]
			epochSeconds, eta := 0.0, -1.0
			for epoch := 0; epoch < 2; epoch++ {
				for batch := 1; batch <= 2; batch++ {
					clock.advance(4 * time.Second)
					r := progress.Report{Title: title, Epoch: epoch, Epochs: 2, Phase: "train", Batch: batch,
						Batches: 2, Loss: 1 / float64(batch+epoch), Acc: 0.5, EpochSeconds: epochSeconds, ETA: eta}
					v.Handle(driverEvent{Event: "display", Cell: index, HTML: r.HTML("")})
				}
				epochSeconds, eta = 8, float64(8*(1-epoch))
			}
			done := progress.Report{Title: title, Epoch: 1, Epochs: 2, Phase: "done", Loss: 0.4, Acc: 0.8,
				EpochSeconds: 8, ETA: 0}
			v.Handle(driverEvent{Event: "display", Cell: index, HTML: done.HTML("")})
		} else {
			clock.advance(time.Second)
		}
		v.Handle(driverEvent{Event: "executed", Cell: index})
	}
	return v, &out, clock
}

func TestProgressViewPlainLines(t *testing.T) {
	v, out, clock := recordedRun(t, false, 0, false)
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
	if want := "took 0:36; slowest cells: [3/5] Finetuning the ConvNet 0:16, [4/5] ConvNet as fixed feature extractor 0:16, " +
		`[1/5] fmt.Println("setup") 0:01`; summary != want {
		t.Errorf("summary = %q\nwant %q", summary, want)
	}
}

func TestProgressViewTerminalStatusLine(t *testing.T) {
	v, out, _ := recordedRun(t, true, 60, false)
	v.Note("interrupting")
	v.Finish()
	text := out.String()
	// Every report rewrites the status line (5 per training cell); a line of its own clears it first.
	if n := strings.Count(text, "\r\x1b[K      finetune"); n != 5 {
		t.Errorf("%d finetune status lines, want 5:\n%q", n, text)
	}
	if !strings.Contains(text, "\r\x1b[K      finetune  epoch 2/2  done  loss 0.4000  acc 80.0%\n"+
		"[4/5] 0:18  ConvNet as fixed feature extractor  (about 0:16 left)\n") {
		t.Errorf("the training's last report does not replace the status line with a line of its own:\n%q", text)
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
	v, out, _ := recordedRun(t, true, 80, true)
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

// runMainEnv, when set in the environment, makes the test binary run the kernel command itself (dispatch with its
// arguments) instead of the tests: the integration tests run `kernel run` as a real process, to give it a
// terminal or a signal.
const runMainEnv = "KERNEL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// kernelCommand returns `kernel ARGS...` as a process of the test binary.
func kernelCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

// openPTY opens a pseudo-terminal of 120 columns: the controller, and the terminal a process writes to.
func openPTY(t *testing.T) (controller, terminal *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(controller.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(terminal.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	return controller, terminal
}

// cellLines returns the lines of a run's output that start a cell ("[k/N] ..."), in order.
func cellLines(output string) []string {
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(output, "\r\x1b[K", "\n"), "\n") {
		if line = strings.TrimRight(line, "\r"); strings.HasPrefix(line, "[") {
			lines = append(lines, line)
		}
	}
	return lines
}

// checkCellLines checks that the per-cell lines name the fixture's cells in order.
func checkCellLines(t *testing.T, output string, cells int) {
	t.Helper()
	titles := []string{"Progress fixture", "Training", "Waiting", "Waiting"}
	lines := cellLines(output)
	if len(lines) != cells {
		t.Fatalf("%d per-cell lines, want %d:\n%s", len(lines), cells, output)
	}
	for k, line := range lines {
		prefix := fmt.Sprintf("[%d/4] ", k+1)
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, "  "+titles[k]) {
			t.Errorf("cell line %d = %q, want %q … %q", k+1, line, prefix, titles[k])
		}
	}
}

// TestKernelRunShowsProgress runs the fixture notebook kernel/testdata/progress.ipynb as `kernel run` would be by
// a user: under a terminal, to the end with --check, where the training cell rewrites a status line in place; then
// without one, interrupted by SIGINT in its waiting cell, where training shows as plain lines and the partial
// notebook and HTML export are still written.
func TestKernelRunShowsProgress(t *testing.T) {
	tmp, prefix := installTestKernel(t)
	// The fixture's cells import gonbui, and the checksum database cannot be reached from every machine that
	// runs this test: what is tested here is the progress shown, not GoNB's module resolution.
	t.Setenv("GOSUMDB", "off")
	fixture, err := filepath.Abs(filepath.Join("testdata", "progress.ipynb"))
	if err != nil {
		t.Fatal(err)
	}

	// Under a terminal, to the end.
	out := filepath.Join(tmp, "tty")
	controller, terminal := openPTY(t)
	defer controller.Close()
	cmd := kernelCommand("run", fixture, "--prefix", prefix, "--out", out, "--timeout", "5m", "--check")
	cmd.Stdout, cmd.Stderr = terminal, terminal
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&screen, controller) // ends with EIO once the terminal's last writer closes it
		close(copied)
	}()
	err = cmd.Run()
	terminal.Close()
	<-copied
	text := screen.String()
	if err != nil {
		t.Fatalf("run under a terminal: %v\n%s\nkernel log:\n%s", err, text, logTail(filepath.Join(out, "progress.log")))
	}
	checkCellLines(t, text, 4)
	if n := strings.Count(text, "\r\x1b[K      fixture  epoch "); n < 3 {
		t.Errorf("the training cell rewrote its status line %d times, want one per report (13):\n%q", n, text)
	}
	if strings.Contains(text, "      fixture  epoch 1/2  train 1/3  loss 1.0000  acc 50.0%\r\n") {
		t.Errorf("a training report is printed as a line of its own under a terminal:\n%q", text)
	}
	t.Logf("under a terminal:\n%q", text)
	for _, want := range []string{"     took ", "; slowest cells: [", "ok   " + fixture + ": 4 code cells ran"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	nb, err := nbcheck.Load(filepath.Join(out, "progress.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if outputs := nb.Cells[1].Outputs; len(outputs) != 1 || outputs[0].Text != "setup done\n" {
		t.Errorf("setup cell outputs = %+v, want one stream output with what a terminal shows, \"setup done\\n\"", outputs)
	}
	page, err := os.ReadFile(filepath.Join(out, "progress.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nbcheck.CheckSelfContained(page); err != nil || bytes.Contains(page, []byte("file://")) {
		t.Errorf("the HTML export is not self-contained: %v", err)
	}

	// Without a terminal, interrupted in the waiting cell.
	out = filepath.Join(tmp, "plain")
	cmd = kernelCommand("run", fixture, "--prefix", prefix, "--out", out, "--timeout", "5m")
	cmd.Env = append(cmd.Env, "PROGRESS_FIXTURE_WAIT=10m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var plain strings.Builder
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		line := scanner.Text()
		plain.WriteString(line + "\n")
		if strings.HasPrefix(line, "[3/4] ") {
			// Let GoNB compile the cell and start it, though an interrupt during the build must stop it too.
			time.AfterFunc(3*time.Second, func() { cmd.Process.Signal(syscall.SIGINT) })
		}
	}
	err = cmd.Wait()
	text = plain.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("interrupted run: %v, want exit status 130\n%s\n%s\nkernel log:\n%s", err, text, stderr.String(),
			logTail(filepath.Join(out, "progress.log")))
	}
	checkCellLines(t, text, 3)
	if !strings.Contains(text, "\n      fixture  epoch 1/2  train 1/3  loss 1.0000  acc 50.0%\n") ||
		!strings.Contains(text, "\n      fixture  epoch 2/2  done  loss 0.5000  acc 75.0%\n") {
		t.Errorf("the training cell's first and last reports are not plain lines:\n%s", text)
	}
	t.Logf("without a terminal:\n%s", text)
	if strings.Contains(text, "\r") {
		t.Errorf("plain output has carriage returns:\n%q", text)
	}
	for _, want := range []string{"interrupting [3/4] Waiting … (Ctrl-C again to stop at once)",
		"STOP " + fixture + ": Ctrl-C: interrupted in cell [3/4] Waiting; took ",
		filepath.Join(out, "progress.ipynb"), filepath.Join(out, "progress.html")} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(stderr.String(), "interrupted in cell [3/4] Waiting") {
		t.Errorf("stderr = %q, want the interrupted cell", stderr.String())
	}
	partial, err := nbcheck.Load(filepath.Join(out, "progress.ipynb"))
	if err != nil {
		t.Fatalf("the interrupted run wrote no notebook: %v", err)
	}
	if partial.Cells[3].ExecutionCount == nil || !strings.Contains(partial.Stdout(), "epoch 2 done") {
		t.Errorf("the partial notebook lacks the training cell's outputs:\n%s", partial.Stdout())
	}
	if partial.Cells[6].ExecutionCount != nil || strings.Contains(partial.Stdout(), "last cell") {
		t.Error("the cell after the interrupted one ran")
	}
	if _, err := os.Stat(filepath.Join(out, "progress.html")); err != nil {
		t.Errorf("the interrupted run wrote no HTML export: %v", err)
	}
}

// TestProgressViewBeforeTheFirstBatch: the plain line of a phase that has run no batch shows no loss or accuracy.
func TestProgressViewBeforeTheFirstBatch(t *testing.T) {
	var out bytes.Buffer
	v := &progressView{w: &out, now: time.Now}
	v.training(progress.Report{Title: "finetune", Epochs: 25, Phase: "train", Batches: 61, ETA: -1})
	if text := out.String(); !strings.Contains(text, "finetune  epoch 1/25  train 0/61") || strings.Contains(text, "loss") {
		t.Errorf("before the first batch: %q", text)
	}
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// TestSettingsErrorsBeforeAnyWork: a bad value from the environment or a flag exits with status 2 naming the
// variable or flag and the value, before the data is touched.
func TestSettingsErrorsBeforeAnyWork(t *testing.T) {
	data := t.TempDir()
	t.Setenv("HYMENOPTERA_DATA", data)
	base := []string{"train", "--scenario", "fixed", "--out", filepath.Join(t.TempDir(), "run")}
	for _, tc := range []struct {
		env, value string // an environment variable to set, if any
		args       []string
		want       []string
	}{
		{"HYMENOPTERA_EPOCHS", "abc", nil, []string{"HYMENOPTERA_EPOCHS", `"abc"`}},
		{"HYMENOPTERA_LR", "NaN", nil, []string{"HYMENOPTERA_LR", `"NaN"`}},
		{"", "", []string{"--lr", "Inf"}, []string{"-lr", `"Inf"`}},
		{"", "", []string{"--lr", "NaN"}, []string{"-lr", `"NaN"`}},
		{"", "", []string{"--workers", "-1"}, []string{"-workers", `"-1"`}},
		{"", "", []string{"--epochs", "abc"}, []string{"-epochs", `"abc"`}},
	} {
		if tc.env != "" {
			t.Setenv(tc.env, tc.value)
		}
		code, _, stderr := runCLI(t, append(base, tc.args...)...)
		if code != 2 {
			t.Errorf("%s=%s %q: exit %d, want 2", tc.env, tc.value, tc.args, code)
		}
		for _, want := range tc.want {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s=%s %q: stderr does not name %s:\n%s", tc.env, tc.value, tc.args, want, stderr)
			}
		}
		if tc.env != "" {
			t.Setenv(tc.env, "")
		}
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("refused command lines touched the data directory: %v", entries)
	}
}

// TestTrainReadsTheEnvironment: train takes its defaults from HYMENOPTERA_* and says so; --resume with other
// settings names each difference.
func TestTrainReadsTheEnvironment(t *testing.T) {
	t.Setenv("HYMENOPTERA_DATA", filepath.Join(t.TempDir(), "data"))
	t.Setenv("HYMENOPTERA_EPOCHS", "1")
	t.Setenv("HYMENOPTERA_IMAGE_SIZE", "64")
	t.Setenv("HYMENOPTERA_MAX_IMAGES", "8")
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--scenario", "fixed", "--weights", testenv.Fixture(t, "model", "resnet18_random.pth"),
		"--data", testenv.DatasetZip(t), "--out", out}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 || strings.Contains(stdout, "Epoch 1/") {
		t.Fatalf("exit %d, want one epoch\n%s", code, stdout)
	}
	for _, want := range []string{"1 epochs", "64×64 crops", "epochs=1 ($HYMENOPTERA_EPOCHS)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, _, stderr = runCLI(t, append(args, "--resume", "--epochs", "2", "--image-size", "96", "--max-images", "6")...)
	for _, want := range []string{"image-size was 64, now 96", "max-images was 8, now 6"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("resume with other settings: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
}

// TestPredictRefusesBadCheckpoints: a checkpoint bomb (an expand of 2³³ elements in a few hundred bytes), NaN
// weights and a deeper ResNet each fail with one line naming the file and what is wrong, before any allocation
// of note and without a stack trace; train --weights refuses the bomb the same way.
func TestPredictRefusesBadCheckpoints(t *testing.T) {
	dir := t.TempDir()
	sd, err := statedict.Load(testenv.Fixture(t, "model", "resnet18_random.pth"))
	if err != nil {
		t.Fatal(err)
	}
	save := func(name string, change func(*statedict.StateDict)) string {
		change(sd)
		path := filepath.Join(dir, name)
		if err := statedict.SavePTH(path, sd); err != nil {
			t.Fatal(err)
		}
		return path
	}
	nan := save("nan.pth", func(sd *statedict.StateDict) { sd.Tensors["layer2.0.conv1.weight"].Float32[7] = float32(math.NaN()) })
	deeper := save("resnet50ish.pth", func(sd *statedict.StateDict) {
		sd.Set("layer1.0.conv3.weight", &statedict.Tensor{DType: statedict.Float32, Shape: []int{1}, Float32: []float32{0}})
	})
	bomb := filepath.Join("..", "..", "statedict", "testdata", "expand_bomb.pth")
	for path, want := range map[string]string{
		bomb:   "expanded tensor",
		nan:    "layer2.0.conv1.weight holds NaN values",
		deeper: "a ResNet-50, -101 or -152",
	} {
		code, _, stderr := runCLI(t, "predict", "--weights", path, "image.jpg")
		if code != 1 || !strings.Contains(stderr, path) || !strings.Contains(stderr, want) ||
			strings.Count(stderr, "hymenoptera predict:") != 1 || strings.Contains(stderr, "goroutine") {
			t.Errorf("predict --weights %s: exit %d, stderr %q; want 1 and one line naming the file and %q", path, code, stderr, want)
		}
	}
	code, _, stderr := runCLI(t, "train", "--scenario", "fixed", "--weights", bomb, "--data", testenv.DatasetZip(t),
		"--data-dir", filepath.Join(dir, "data"), "--max-images", "8", "--out", filepath.Join(dir, "run"))
	if code != 1 || !strings.Contains(stderr, "expanded tensor") {
		t.Errorf("train --weights %s: exit %d\n%s", bomb, code, stderr)
	}
}

// TestCLIHelperProcess runs the command line in HYMENOPTERA_TEST_ARGS as main does (signals included), for the
// tests that stop a real process; it does nothing in a normal run.
func TestCLIHelperProcess(t *testing.T) {
	args := os.Getenv("HYMENOPTERA_TEST_ARGS")
	if args == "" {
		t.Skip("helper process of the signal and crash tests")
	}
	ctx, stop := notifyInterrupt()
	defer stop()
	os.Exit(run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// cliProcess is the CLI running in a child process.
type cliProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	epochs         chan string // the "Epoch N/M" lines, as they come
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startCLI(t *testing.T, args ...string) *cliProcess {
	t.Helper()
	p := &cliProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, epochs: make(chan string, 16)}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$", "-test.count=1")
	p.cmd.Env = append(os.Environ(), "HYMENOPTERA_TEST_ARGS="+strings.Join(args, "\x1f"))
	p.cmd.Stderr = p.stderr
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		scanner := bufio.NewScanner(io.TeeReader(pipe, p.stdout))
		for scanner.Scan() {
			if strings.HasPrefix(scanner.Text(), "Epoch ") {
				p.epochs <- scanner.Text()
			}
		}
		close(p.epochs)
	}()
	return p
}

// wait returns the exit status, or 128+signal for a process a signal killed.
func (p *cliProcess) wait(t *testing.T) int {
	t.Helper()
	for range p.epochs { // drain until the output ends
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestSignalsAndCrashes: a second run on the folder of a running one fails at once; SIGTERM stops a run like Ctrl-C, keeping the last completed epoch, with the shell's
// status 143 and a message saying how to continue; runs killed with SIGKILL at random moments (bounded: a few
// kills of a tiny configuration) always resume, and the finished run has every epoch and a loadable best.pth.
func TestSignalsAndCrashes(t *testing.T) {
	const epochs = "3"
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--scenario", "fixed", "--image-size", "64", "--max-images", "8", "--epochs", epochs,
		"--weights", testenv.Fixture(t, "model", "resnet18_random.pth"), "--data", testenv.DatasetZip(t),
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--out", out}

	p := startCLI(t, args...)
	for line := range p.epochs {
		if strings.HasPrefix(line, "Epoch 0/") {
			// A second run on the same folder, the other scenario, fails at once naming the first.
			code, _, stderr := runCLI(t, "train", "--scenario", "finetune", "--out", out)
			want := fmt.Sprintf("%s is in use by another run (pid %d)", out, p.cmd.Process.Pid)
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("a second run on %s: exit %d, want 1 and %q:\n%s", out, code, want, stderr)
			}
		}
		if strings.HasPrefix(line, "Epoch 1/") {
			p.cmd.Process.Signal(syscall.SIGTERM)
			break
		}
	}
	code := p.wait(t)
	stderr := p.stderr.String()
	if code != 143 || !strings.Contains(stderr, "interrupted after epoch 1 of 3; continue with --resume") ||
		strings.Contains(stderr, "context canceled") {
		t.Fatalf("SIGTERM in epoch 1: exit %d, want 143 and the message\n%s", code, stderr)
	}

	resume := append(args, "--resume")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for kill := range 3 {
		p := startCLI(t, resume...)
		// Somewhere in the start-up, an epoch or a save: the first line of output, then a random wait.
		<-p.epochs
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		p.cmd.Process.Kill()
		if code := p.wait(t); code != 0 && code != 137 {
			t.Fatalf("kill %d: exit %d\n%s", kill, code, p.stderr.String())
		}
	}
	p = startCLI(t, resume...)
	if code := p.wait(t); code != 0 {
		t.Fatalf("resume after the kills: exit %d\n%s\n%s", code, p.stdout.String(), p.stderr.String())
	}
	if h := readHistory(t, filepath.Join(out, "history.json")); len(h.Epochs) != 3 {
		t.Errorf("history has %d epochs, want 3", len(h.Epochs))
	}
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.FromCheckpoint(backend, filepath.Join(out, "best.pth")); err != nil {
		t.Errorf("best.pth: %v", err)
	}
}

package train

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests run the checkpoint protocol in a child process (this test binary, running
// TestCheckpointHelperProcess) that kills itself with SIGKILL right after its k-th file operation, for every k
// in turn: no deferred cleanup runs, as after a real crash. The files hold synthetic content, so that a child
// takes milliseconds; the model's own files go through the same functions (saveResumeSet, writeFile).
const (
	helperDirEnv  = "TRAIN_CRASH_DIR"
	helperKillEnv = "TRAIN_CRASH_KILL_AT"
	crashEpochs   = 3
)

// crashImproves says which epochs of the synthetic run beat the best accuracy (so stage a new best.pth).
func crashImproves(epoch int) bool { return epoch != 1 }

func syntheticFile(content string) fileWriter {
	return func(path string) error { return os.WriteFile(path, []byte(content), 0o644) }
}

// runSynthetic is a run of crashEpochs epochs in dir, resumed from what dir holds, with the file operations of
// TrainModel: the starting best.pth, then for each epoch the staged best (when it improves) and the resume set.
func runSynthetic(dir string) error {
	state, err := recoverDir(dir)
	switch {
	case isNotExist(err):
		state = runState{BestEpoch: -1}
		if state.BestSHA256, err = writeFile(filepath.Join(dir, BestCheckpoint), syntheticFile("best -1")); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := checkResumeSet(dir, state); err != nil {
			return err
		}
	}
	for epoch := state.CompletedEpochs; epoch < crashEpochs; epoch++ {
		state.CompletedEpochs = epoch + 1
		if crashImproves(epoch) {
			state.BestEpoch = epoch
			if _, err := writeFile(filepath.Join(dir, stagedBest), syntheticFile(fmt.Sprint("best ", epoch))); err != nil {
				return err
			}
		}
		err := saveResumeSet(dir, state, syntheticFile(fmt.Sprint("last ", epoch)), syntheticFile(fmt.Sprint("opt ", epoch)))
		if err != nil {
			return err
		}
	}
	return nil
}

// TestCheckpointHelperProcess is the child of TestCrashAtEveryFileOperation; it does nothing in a normal run.
func TestCheckpointHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashAtEveryFileOperation")
	}
	killAt, _ := strconv.Atoi(os.Getenv(helperKillEnv))
	ops := 0
	fileOpHook = func(op string) {
		fmt.Println("op", op)
		if ops++; ops == killAt {
			// A write in progress at the moment of the crash: its temporary file stays behind.
			os.WriteFile(filepath.Join(dir, ".last-9999.pth.123.tmp"), []byte("partial"), 0o600)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	if err := runSynthetic(dir); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
}

// runHelper runs the child in dir, killed after its killAt-th file operation (0: never), and returns the
// operations it reported and whether it was killed.
func runHelper(t *testing.T, dir string, killAt int) (ops []string, killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperKillEnv+"="+strconv.Itoa(killAt))
	out, err := cmd.Output()
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		if op, ok := strings.CutPrefix(scanner.Text(), "op "); ok {
			ops = append(ops, op)
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() && status.Signal() == syscall.SIGKILL {
			return ops, true
		}
	}
	if err != nil {
		t.Fatalf("helper (kill at %d): %v\n%s", killAt, err, out)
	}
	return ops, false
}

// TestCrashAtEveryFileOperation: whatever file operation of a run a crash follows, the next start recovers a
// consistent directory (the last committed epoch or the one before, every file matching the manifest, best.pth
// the best of the epochs committed, no temporary file left), and resuming from it completes the run.
func TestCrashAtEveryFileOperation(t *testing.T) {
	all, killed := runHelper(t, t.TempDir(), 0)
	if killed || len(all) < 3*crashEpochs {
		t.Fatalf("the uninterrupted run reported %d file operations (killed: %v): %v", len(all), killed, all)
	}
	t.Logf("%d file operations: %v", len(all), all)
	for k := 1; k <= len(all); k++ {
		dir := t.TempDir()
		if _, killed := runHelper(t, dir, k); !killed {
			t.Fatalf("the child was not killed after operation %d (%s)", k, all[k-1])
		}
		state, err := recoverDir(dir)
		after := fmt.Sprintf("killed after %q (operation %d)", all[k-1], k)
		switch {
		case isNotExist(err):
			// Killed before the first commit: a new run starts.
		case err != nil:
			t.Fatalf("%s: %v", after, err)
		default:
			if err := checkResumeSet(dir, state); err != nil {
				t.Fatalf("%s: %v", after, err)
			}
			best, err := os.ReadFile(filepath.Join(dir, BestCheckpoint))
			if want := fmt.Sprint("best ", state.BestEpoch); err != nil || string(best) != want {
				t.Errorf("%s: best.pth holds %q (%v), want %q", after, best, err, want)
			}
		}
		if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(leftovers) > 0 {
			t.Errorf("%s: temporary files left after recovery: %v", after, leftovers)
		}
		if _, killed := runHelper(t, dir, 0); killed {
			t.Fatalf("%s: the resumed run was killed", after)
		}
		final, err := recoverDir(dir)
		if err != nil || final.CompletedEpochs != crashEpochs {
			t.Fatalf("%s: after resuming, %d epochs completed (%v), want %d", after, final.CompletedEpochs, err, crashEpochs)
		}
		names, _ := os.ReadDir(dir)
		if len(names) != 4 { // best.pth, state.json, last-0002.pth, optimizer-0002.safetensors
			t.Errorf("%s: after resuming the directory holds %v, want only the last epoch's files", after, names)
		}
	}
}

// TestDamagedDirectory: a finished run's files match its manifest; bit rot in a file is then reported naming it
// and saying best.pth is intact; a damaged best.pth is reported as such.
func TestDamagedDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := runSynthetic(dir); err != nil {
		t.Fatal(err)
	}
	state, err := recoverDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkResumeSet(dir, state); err != nil {
		t.Fatal(err)
	}
	opt := filepath.Join(dir, state.Optimizer)
	if err := os.WriteFile(opt, []byte("rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = checkResumeSet(dir, state)
	if err == nil || !strings.Contains(err.Error(), opt) || !strings.Contains(err.Error(), "best.pth is intact") ||
		strings.Contains(err.Error(), "delete") {
		t.Errorf("checkResumeSet = %v; want an error naming %s, saying best.pth is intact, advising no deletion", err, opt)
	}
	if err := os.WriteFile(filepath.Join(dir, BestCheckpoint), []byte("rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkResumeSet(dir, state); err == nil || !strings.Contains(err.Error(), "does not match its checksum either") {
		t.Errorf("checkResumeSet with best.pth damaged too = %v", err)
	}
}

// TestLeftovers: only the files of saves, and their temporary files, are ever removed.
func TestLeftovers(t *testing.T) {
	state := runState{Last: "last-0002.pth", Optimizer: "optimizer-0002.safetensors"}
	for name, want := range map[string]bool{
		"last-0001.pth": true, "optimizer-0001.safetensors": true, "best-next.pth": true,
		".last-0003.pth.123456.tmp": true, ".state.json.99.tmp": true, ".best.pth.1.tmp": true,
		"last-0002.pth": false, "optimizer-0002.safetensors": false, "best.pth": false, "state.json": false,
		".lock": false, "history.json": false, "last-notes.pth": false, "my.pth": false, ".bashrc.tmp": false,
	} {
		if got := isLeftover(name, state); got != want {
			t.Errorf("isLeftover(%q) = %v, want %v", name, got, want)
		}
	}
}

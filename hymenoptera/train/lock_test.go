package train

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const lockHelperEnv = "TRAIN_LOCK_DIR"

// TestLockHelperProcess is the child of TestOneRunPerDirectory: it takes the lock, says so, and waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process of TestOneRunPerDirectory")
	}
	if _, err := lockDir(dir); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
}

// TestOneRunPerDirectory: while another process holds a checkpoint directory, a run (and clearing it) fails at
// once naming that process; once it dies, however abruptly, its lock is gone.
func TestOneRunPerDirectory(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	child.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper said %q", line)
	}
	want := fmt.Sprintf("%s is in use by another run (pid %d)", dir, child.Process.Pid)
	if _, err := lockDir(dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("lockDir while another process holds it = %v, want %q", err, want)
	}
	if err := CheckNotInUse(dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckNotInUse while another process holds it = %v, want %q", err, want)
	}
	if err := ClearCheckpointDir(dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ClearCheckpointDir while another process holds it = %v, want %q", err, want)
	}
	child.Process.Kill() // SIGKILL: the child cannot release anything itself
	child.Wait()
	release, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lockDir after the holder died: %v", err)
	}
	release()
}

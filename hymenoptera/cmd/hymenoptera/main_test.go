package main

import (
	"bytes"
	"context"
	"flag"
	"slices"
	"strings"
	"testing"
)

// runCLI runs the command line args in-process and returns its exit status and outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	t.Logf("hymenoptera %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, errOut.String())
	return code, out.String(), errOut.String()
}

func TestCommandLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		wantStderr []string // all of them
	}{
		{nil, []string{"usage: hymenoptera <command>"}},
		{[]string{"frob"}, []string{`unknown command "frob"`, "usage: hymenoptera <command>"}},
		{[]string{"help", "frob"}, []string{`unknown command "frob"`}},
		{[]string{"predict", "--bogus", "x.jpg"}, []string{"-bogus", "usage: hymenoptera predict --weights"}},
		{[]string{"predict", "x.jpg"}, []string{"--weights is required", "usage: hymenoptera predict"}},
		{[]string{"predict", "--weights", "m.pth"}, []string{"no image", "usage: hymenoptera predict"}},
		{[]string{"predict", "--weights", "m.pth", "--batch", "0", "x.jpg"}, []string{"--batch 0"}},
		{[]string{"bench"}, []string{"--mode is required", "usage: hymenoptera bench"}},
		{[]string{"bench", "--mode", "fast"}, []string{`--mode "fast"`, "eval, train, data"}},
		{[]string{"bench", "--mode", "data", "--iters", "2"}, []string{"--iters is not for --mode data"}},
		{[]string{"bench", "--mode", "eval", "--torch-device", "tpu"}, []string{`--torch-device "tpu"`, "auto, cpu, cuda"}},
		{[]string{"bench", "--mode", "train", "--epochs", "2"}, []string{"--epochs is not for --mode train"}},
		{[]string{"bench", "--mode", "eval", "--iters", "0"}, []string{"must be positive"}},
		{[]string{"bench", "--mode", "eval", "extra"}, []string{`unexpected argument "extra"`}},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 2 {
			t.Errorf("%q: exit status %d, want 2", tc.args, code)
		}
		if stdout != "" {
			t.Errorf("%q: wrote %q to stdout, want nothing", tc.args, stdout)
		}
		for _, want := range tc.wantStderr {
			if !strings.Contains(stderr, want) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, want, stderr)
			}
		}
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"predict", "bench", "GOMLX_BACKEND"}},
		{[]string{"--help"}, []string{"usage: hymenoptera <command>"}},
		{[]string{"help", "predict"}, []string{"usage: hymenoptera predict", "--weights FILE", "exit status is then 1"}},
		{[]string{"predict", "-h"}, []string{"usage: hymenoptera predict", "--json"}},
		{[]string{"bench", "--help"}, []string{"usage: hymenoptera bench", "--mode MODE", "torch_img_s"}},
	} {
		code, stdout, _ := runCLI(t, tc.args...)
		if code != 0 {
			t.Errorf("%q: exit status %d, want 0", tc.args, code)
		}
		for _, want := range tc.want {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: stdout lacks %q:\n%s", tc.args, want, stdout)
			}
		}
	}
}

// TestPanicBecomesError: a panic inside a command (GoMLX reports some errors by panicking) reaches the user as
// an error message and exit status 1.
func TestPanicBecomesError(t *testing.T) {
	saved := commands
	commands = slices.Clone(saved) // register sorts in place
	t.Cleanup(func() { commands = saved })
	register(&command{name: "explode", setup: func(*flag.FlagSet) runFunc {
		return func(context.Context, streams, []string) error { panic("boom") }
	}})
	code, _, stderr := runCLI(t, "explode")
	if code != 1 || !strings.Contains(stderr, "internal error: boom") {
		t.Errorf("exit status %d, stderr %q; want 1 and the panic's message", code, stderr)
	}
}

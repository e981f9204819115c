// Command hymenoptera runs the tutorial's ResNet-18 from the command line: training either scenario,
// predictions on image files, and the benchmarks that put the Go implementation side by side with PyTorch.
//
//	hymenoptera predict --weights FILE|imagenet [--json] [--batch N] IMAGE...
//	hymenoptera explain --weights FILE|imagenet [--json] [--out DIR] IMAGE...
//	hymenoptera bench --mode eval|train|data|epoch [--batch N] [--iters K] [--warmup W] [--json]
//	hymenoptera train --scenario finetune|fixed [--epochs N] [--weights FILE|imagenet] [--data SOURCE] [--out DIR]
//	hymenoptera help [COMMAND]
//
// Build it with GOEXPERIMENT=simd: the pure-Go backend's matrix multiplication needs it to be fast (the command
// warns when it runs without it). GOMLX_BACKEND picks the backend (see package backends).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/hymenoptera-go/tutorial/hymenoptera/cliflags"
)

// command is one subcommand. Each lives in a file of its own, which adds it to commands in an init function, so
// that adding a subcommand touches no other file.
type command struct {
	name     string
	synopsis string // the arguments, after "hymenoptera NAME"
	summary  string // one line, for the list of commands
	details  string // what the command does, its output and its exit status, for its help
	// setup defines the command's flags on fs and returns the function that runs the command once fs has parsed
	// the command line.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with the positional arguments left after its flags.
type runFunc func(ctx context.Context, out streams, args []string) error

// streams are where a command writes: results to stdout, progress, warnings and errors to stderr, so that
// stdout can be piped (--json) without noise.
type streams struct{ stdout, stderr io.Writer }

var commands []*command

func register(c *command) {
	commands = append(commands, c)
	slices.SortFunc(commands, func(a, b *command) int { return strings.Compare(a.name, b.name) })
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is a bad command line: it exits with status 2, like the flag package's errors, and the message is
// followed by the command's synopsis.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := notifyInterrupt()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// interrupted is the cause of the context's cancellation when a signal stops the program.
type interrupted struct{ signal syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.signal) }

// signalName names the signals the program handles as the shell does.
func signalName(s syscall.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return s.String()
}

// exitCode is the shell's convention for a program that a signal stopped: 128 + the signal's number (130 for
// SIGINT, 143 for SIGTERM).
func (i interrupted) exitCode() int { return 128 + int(i.signal) }

// notifyInterrupt returns a context cancelled, with an interrupted cause, by the first SIGINT (Ctrl-C) or SIGTERM
// (docker stop, CI): commands check it between batches and iterations, and stop cleanly. A second signal stops
// the program at once.
func notifyInterrupt() (context.Context, func()) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		first := (<-signals).(syscall.Signal)
		cancel(interrupted{first})
		second := (<-signals).(syscall.Signal)
		fmt.Fprintf(os.Stderr, "\nhymenoptera: %s again: stopping at once\n", signalName(second))
		os.Exit(interrupted{second}.exitCode())
	}()
	return ctx, func() { signal.Stop(signals); cancel(nil) }
}

// run runs the command line args and returns the exit status: 0 on success, 1 when the command fails (the error
// is written to stderr), 2 for a bad command line (with the usage). It never panics: a panic from below (GoMLX
// reports some errors by panicking) is reported as an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "hymenoptera: internal error: %v\n", r)
			code = 1
		}
	}()
	out := streams{stdout, stderr}
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(out, args[1:])
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "hymenoptera: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	return c.run(ctx, out, args[1:])
}

func (c *command) run(ctx context.Context, out streams, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed below, help to stdout and errors to stderr
	fs.Usage = func() {}
	runCommand := c.setup(fs)
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.printHelp(out.stdout, fs)
		return 0
	}
	if err == nil {
		err = runCommand(ctx, out, positional)
	}
	var usage *usageError
	var signal interrupted
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &signal):
		if errors.Is(err, context.Canceled) { // a command with nothing to add to the signal's name
			err = signal
		}
		fmt.Fprintf(out.stderr, "hymenoptera %s: %v\n", c.name, err)
		return signal.exitCode()
	case errors.As(err, &usage):
		fmt.Fprintf(out.stderr, "hymenoptera %s: %v\nusage: hymenoptera %s %s\nRun `hymenoptera %s -h` for its help.\n",
			c.name, err, c.name, c.synopsis, c.name)
		return 2
	default:
		fmt.Fprintf(out.stderr, "hymenoptera %s: %v\n", c.name, err)
		return 1
	}
}

// parseInterspersed is cliflags.ParseInterspersed with flag errors as usage errors.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	positional, err := cliflags.ParseInterspersed(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return nil, &usageError{err.Error()}
	}
	return positional, err
}

func help(out streams, args []string) int {
	if len(args) == 0 {
		printUsage(out.stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(out.stderr, "hymenoptera help: unknown command %q\n\n", args[0])
		printUsage(out.stderr)
		return 2
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	c.printHelp(out.stdout, fs)
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "hymenoptera runs the transfer-learning tutorial's ResNet-18 (ants and bees) in Go.\n\n"+
		"usage: hymenoptera <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "  help     this text, or with a command's name its usage (also `hymenoptera COMMAND -h`)\n\n"+
		"GOMLX_BACKEND selects the GoMLX backend (\"go\", \"xla:cpu\", ...); by default XLA if its plugin is installed,\n"+
		"else the pure-Go backend. Build with GOEXPERIMENT=simd for a fast pure-Go backend.\n")
}

// printHelp writes the command's usage, details and flags (with GNU-style double dashes, as the synopses show
// them; the flag package takes either).
func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: hymenoptera %s %s\n\n%s\n\nflags:\n", c.name, c.synopsis, strings.TrimSpace(c.details))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		argument, usage := flag.UnquoteUsage(f)
		if argument != "" {
			argument = " " + argument
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, argument, usage)
	})
	tw.Flush()
}

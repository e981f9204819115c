// Command kernel sets up and drives the project's Jupyter kernel: GoNB, with goimports and gopls, built at the
// versions this repository pins, installed as a kernelspec of its own name whose notebooks import the
// repository's packages without a set-up cell.
//
//	go run ./kernel install [--prefix DIR] [--name NAME]
//	go run ./kernel run NOTEBOOK... [--out DIR] [--html DIR] [--timeout DURATION] [--check] [--min-images N]
//	go run ./kernel check [--min-images N] [--screenshot] EXECUTED.ipynb [EXPORT.html]
//	go run ./kernel doctor [--prefix DIR] [--name NAME]
//	go run ./kernel pjrt [--plugin cpu|cuda13|cuda12] [--version V] [--lib DIR]
//
// Run it from inside the repository: it finds the module root by walking up to go.mod.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hymenoptera-go/tutorial/hymenoptera/cliflags"
)

// command is one subcommand: it parses its own arguments and reports failure by error.
type command struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
}

var commands = []command{
	{"install", "build GoNB, goimports and gopls at the pinned versions and install the kernelspec", runInstall},
	{"run", "execute notebooks headless through nbconvert; write the executed notebook and its HTML export", runRun},
	{"check", "check an executed notebook and its HTML export, as run --check does", runCheck},
	{"doctor", "report Go, the kernel's tools, Jupyter, the kernelspec, the GoMLX backend and PJRT plugins", runDoctor},
	{"pjrt", "install an XLA PJRT plugin with go-xla's installer", runPJRT},
}

// errUsage marks errors caused by a bad command line: they exit with status 2, like the flag package.
var errUsage = errors.New("usage")

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout)
		var interrupted *interruptedError // exits 128+signal
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "kernel %s: %v\n", c.name, err)
			return 2
		case errors.As(err, &interrupted):
			fmt.Fprintf(stderr, "kernel %s: %v\n", c.name, err)
			return interrupted.ExitCode()
		default:
			fmt.Fprintf(stderr, "kernel %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kernel: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: go run ./kernel <command> [arguments]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `go run ./kernel <command> -h` for a command's flags.")
}

// parseInterspersed is cliflags.ParseInterspersed with flag errors as usage errors, so that
// `run a.ipynb --out x b.ipynb` works.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	positional, err := cliflags.ParseInterspersed(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return positional, err
}

// newFlagSet returns a flag set that reports errors instead of exiting, with usage text naming the command.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./kernel %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/hymenoptera-go/tutorial/kernel/kernelspec"
	"github.com/hymenoptera-go/tutorial/kernel/nbcheck"
)

//go:embed execute.py
var executeScript string

// kernelStartupTimeout bounds how long Jupyter waits for GoNB to answer: it starts gopls and writes go.work
// before its first reply.
const kernelStartupTimeout = 2 * time.Minute

func runRun(args []string, stdout io.Writer) error {
	fs := newFlagSet("run", "NOTEBOOK... [--out DIR] [--html DIR] [--timeout DURATION] [--check] [--min-images N] "+
		"[--quiet] [--prefix DIR] [--name NAME]")
	target := addTargetFlags(fs)
	outDir := fs.String("out", filepath.Join("out", "notebooks"), "write executed notebooks and kernel logs to `DIR`")
	htmlDir := fs.String("html", "", "write HTML exports (and screenshots) to `DIR` (default: --out)")
	timeout := fs.Duration("timeout", time.Hour, "longest one cell may run (`DURATION`, e.g. 30m)")
	check := fs.Bool("check", false, "also check that the HTML export has the notebook's images and that a "+
		"Chromium screenshot of it is not blank")
	minImages := fs.Int("min-images", 0, "fail unless each notebook displays at least `N` images (implies --check)")
	quiet := fs.Bool("quiet", false, "print only each notebook's final line, not its cells' progress")
	notebooks, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(notebooks) == 0 {
		return fmt.Errorf("%w: name at least one notebook", errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	if *htmlDir == "" {
		*htmlDir = *outDir
	}
	*check = *check || *minImages > 0
	plan, err := planOutputs(notebooks, *outDir, *htmlDir)
	if err != nil {
		return err
	}
	layout, r, err := target.resolve()
	if err != nil {
		return err
	}
	g, err := findGo()
	if err != nil {
		return err
	}
	j, err := ensureJupyter(stdout)
	if err != nil {
		return err
	}
	env := target.jupyterEnv(layout)
	if err := ensureKernel(j, env, r, g, layout, *target.name, stdout); err != nil {
		return err
	}
	var browser string
	if *check {
		if browser, err = ensureBrowser(nbcheck.FindBrowser, stdout); err != nil {
			return err
		}
	}

	view := terminalView(stdout, *quiet)
	intr := newInterrupter()
	defer intr.Stop()
	var failed []string
	for _, p := range plan {
		if sig := intr.Interrupted(); sig != nil {
			return &interruptedError{sig, "between notebooks, before " + p.Notebook}
		}
		start := time.Now()
		progress, err := view(p.Notebook)
		if err != nil {
			return err
		}
		progress.Note(fmt.Sprintf("running %s (%d code cells) …", p.Notebook, len(progress.plan.Cells)))
		nb, err := executeNotebook(j, env, *target.name, *timeout, p, progress, intr)
		summary := progress.Finish()
		if err == nil && *check {
			err = checkOutputs(nb, p, browser, *minImages, progress.out())
		}
		var interrupted *interruptedError
		if errors.As(err, &interrupted) {
			fmt.Fprintf(stdout, "STOP %s: %v; %s\n  executed notebook (partial): %s\n  HTML export "+
				"(partial): %s\n  kernel log: %s\n", p.Notebook, err, summary, p.Executed, p.HTML, p.Log)
			return err
		}
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n  executed notebook: %s\n  HTML export: %s\n  kernel log: %s\n",
				p.Notebook, err, p.Executed, p.HTML, p.Log)
			failed = append(failed, p.Notebook)
			continue
		}
		progress.Note("     " + summary)
		fmt.Fprintf(stdout, "ok   %s: %d code cells ran, %d image(s), %s → %s, %s\n", p.Notebook, nb.CodeCells(),
			len(nb.Images()), time.Since(start).Round(time.Second), p.Executed, p.HTML)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d notebook(s) failed: %s", len(failed), len(plan), strings.Join(failed, ", "))
	}
	if sig := intr.Interrupted(); sig != nil {
		return &interruptedError{sig, "after the last notebook's last cell"}
	}
	return nil
}

// terminalView returns how each notebook's progress is shown on stdout: a status line rewritten in place when
// it is a terminal, plain lines otherwise, nothing but the final line with quiet.
func terminalView(stdout io.Writer, quiet bool) func(notebook string) (*progressView, error) {
	tty, width := false, 0
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		width, _, _ = term.GetSize(int(f.Fd()))
	}
	return func(notebook string) (*progressView, error) {
		data, err := os.ReadFile(notebook)
		if err != nil {
			return nil, err
		}
		plan, err := planNotebook(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", notebook, err)
		}
		return newProgressView(stdout, tty, width, quiet, plan, time.Now), nil
	}
}

// outputs are the files one notebook's run writes.
type outputs struct {
	Notebook   string // the source notebook
	Executed   string // the executed copy
	HTML       string // its HTML export
	Screenshot string // a PNG of the HTML export (with --check)
	Log        string // nbconvert's and the kernel's standard error
	status     string // the driver's outcome (JSON)
}

// planOutputs names every notebook's output files, refusing to overwrite a source notebook or to write two
// notebooks' outputs to the same place.
func planOutputs(notebooks []string, outDir, htmlDir string) ([]outputs, error) {
	var plan []outputs
	claimed := map[string]string{}
	for _, nb := range notebooks {
		if filepath.Ext(nb) != ".ipynb" {
			return nil, fmt.Errorf("%w: %s is not a .ipynb notebook", errUsage, nb)
		}
		if _, err := os.Stat(nb); err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(filepath.Base(nb), ".ipynb")
		o := outputs{
			Notebook:   nb,
			Executed:   filepath.Join(outDir, base+".ipynb"),
			HTML:       filepath.Join(htmlDir, base+".html"),
			Screenshot: filepath.Join(htmlDir, base+".png"),
			Log:        filepath.Join(outDir, base+".log"),
			status:     filepath.Join(outDir, "."+base+".status.json"),
		}
		src, _ := filepath.Abs(nb)
		for _, file := range []string{o.Executed, o.HTML} {
			abs, _ := filepath.Abs(file)
			if abs == src {
				return nil, fmt.Errorf("%w: the executed notebook would overwrite %s: choose another --out", errUsage, nb)
			}
			if other, ok := claimed[abs]; ok {
				return nil, fmt.Errorf("%w: %s and %s would both write %s", errUsage, other, nb, file)
			}
			claimed[abs] = nb
		}
		plan = append(plan, o)
	}
	for _, dir := range []string{outDir, htmlDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// ensureKernel installs the kernel when Jupyter lacks the kernelspec or it is stale (another checkout, changed
// pins, missing binaries), then checks that Jupyter finds it.
func ensureKernel(j *jupyter, env []string, r *repo, g *goCommand, layout kernelspec.Layout, name string, log io.Writer) error {
	_, reasons, err := currentSpec(j, env, r, g, layout, name)
	if err != nil {
		return err
	}
	if len(reasons) == 0 {
		return nil
	}
	fmt.Fprintf(log, "kernel %q needs installing: %s\n", name, strings.Join(reasons, "; "))
	if _, err := installKernel(r, g, layout, name, log); err != nil {
		return err
	}
	dir, reasons, err := currentSpec(j, env, r, g, layout, name)
	if err != nil {
		return err
	}
	if len(reasons) > 0 {
		return fmt.Errorf("Jupyter still does not use the new kernelspec (it reads %s): %s", dir,
			strings.Join(reasons, "; "))
	}
	return nil
}

// driverStatus is what execute.py reports.
type driverStatus struct {
	Outcome string `json:"outcome"` // "ok", "cell-error", "failed" or "interrupted"
	Cell    *int   `json:"cell"`
	Error   string `json:"error"`
}

// eventsFD is the file descriptor on which execute.py writes its events: the first after standard error.
const eventsFD = 3

// executeNotebook runs one notebook through nbconvert with the named kernel, showing its progress on view, and
// fails with the failing cell's index, source and error when a cell fails, or with an *interruptedError when a
// signal stopped it. The executed notebook and its HTML export are written either way.
func executeNotebook(j *jupyter, env []string, kernelName string, timeout time.Duration, p outputs,
	view *progressView, intr *interrupter) (*nbcheck.Notebook, error) {
	cwd, err := filepath.Abs(filepath.Dir(p.Notebook))
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(map[string]any{
		"notebook":        p.Notebook,
		"output":          p.Executed,
		"html":            p.HTML,
		"status":          p.status,
		"title":           strings.TrimSuffix(filepath.Base(p.Notebook), ".ipynb"),
		"kernel":          kernelName,
		"timeout":         int(math.Ceil(timeout.Seconds())),
		"startup_timeout": int(kernelStartupTimeout.Seconds()),
		"cwd":             cwd, // the kernel starts here, as in Jupyter: relative paths resolve next to the notebook
		"events_fd":       eventsFD,
	})
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	os.Remove(p.status)
	defer os.Remove(p.status)

	cmd := pythonCommand(j.Python, "-", string(config))
	cmd.Env = append(cmd.Env, env...) // everything else, HYMENOPTERA_* included, passes through to the kernel
	cmd.Stdin = strings.NewReader(executeScript)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's Ctrl-C reaches intr, which decides
	events, eventsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer events.Close()
	cmd.ExtraFiles = []*os.File{eventsW} // fd 3 = eventsFD
	err = cmd.Start()
	eventsW.Close()
	if err != nil {
		return nil, err
	}
	intr.Attach(cmd.Process, view)
	shown := make(chan struct{})
	go func() {
		defer close(shown)
		readEvents(events, view, intr)
	}()
	runErr := cmd.Wait()
	<-shown
	intr.Detach()

	var status driverStatus
	data, err := os.ReadFile(p.status)
	if err == nil {
		err = json.Unmarshal(data, &status)
	}
	if err != nil && intr.Interrupted() != nil { // a second signal killed the driver before it wrote anything
		return nil, &interruptedError{intr.Interrupted(), "cell " + view.Running()}
	}
	if err != nil {
		return nil, fmt.Errorf("nbconvert did not finish (%v): %v\n%s", runErr, err, logTail(p.Log))
	}
	nb, err := nbcheck.Load(p.Executed)
	if err != nil {
		return nil, err
	}
	if status.Outcome == "interrupted" {
		sig := intr.Interrupted()
		if sig == nil { // the driver alone received it
			sig = syscall.SIGINT
		}
		where := "the notebook, before its first cell"
		if status.Cell != nil {
			where = "cell " + view.plan.Position(*status.Cell)
		}
		return nb, &interruptedError{sig, where}
	}
	if status.Outcome == "failed" {
		// nbclient's message (a timeout, a dead kernel) goes on with a preview of the cell: its first line says it.
		message, _, _ := strings.Cut(status.Error, "\n")
		if status.Cell != nil {
			if failure := nb.FailureAt(*status.Cell, "failed", message); failure != nil {
				return nb, failure
			}
		}
		return nb, fmt.Errorf("nbconvert failed: %s\n%s", message, logTail(p.Log))
	}
	if failure := nb.FirstFailure(); failure != nil {
		return nb, failure
	}
	if status.Outcome != "ok" {
		return nb, fmt.Errorf("nbconvert reported %q, but no cell of %s has an error output\n%s", status.Outcome,
			p.Executed, logTail(p.Log))
	}
	return nb, nil
}

// readEvents shows the driver's events on view until it closes the pipe, and tells intr which process group the
// kernel runs in.
func readEvents(r io.Reader, view *progressView, intr *interrupter) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 64<<20) // a progress display's HTML can be long
	for scanner.Scan() {
		var e driverEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			view.Note(fmt.Sprintf("      unreadable event from execute.py: %v", err))
			continue
		}
		if e.Event == "kernel" {
			intr.KernelStarted(e.PGID)
		}
		view.Handle(e)
	}
	if err := scanner.Err(); err != nil {
		view.Note(fmt.Sprintf("      reading execute.py's events: %v", err))
		io.Copy(io.Discard, r) // never block the driver
	}
}

// checkOutputs runs the checks of --check on an executed notebook.
func checkOutputs(nb *nbcheck.Notebook, p outputs, browser string, minImages int, log io.Writer) error {
	html, err := os.ReadFile(p.HTML)
	if err != nil {
		return err
	}
	if _, err := nbcheck.CheckImages(nb, html, minImages); err != nil {
		return err
	}
	if err := nbcheck.CheckExport(p.Executed, nb, html, browser); err != nil {
		return err
	}
	return checkScreenshot(browser, p.HTML, p.Screenshot, log)
}

// logTailLines is how much of a kernel log an error quotes.
const logTailLines = 20

// logTail returns the last lines of a log file, for error messages.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return "last lines of " + path + ":\n" + strings.Join(lines, "\n")
}

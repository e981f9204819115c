package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// forceGrace is how long the driver has, after a second signal has killed the kernel, to write the partly
// executed notebook before it is killed too.
const forceGrace = 5 * time.Second

// interrupter turns Ctrl-C (SIGINT) and SIGTERM into a clean stop of `kernel run`: the first signal interrupts
// the running cell through the driver, which still writes the partly executed notebook and its HTML export; a
// second one kills the kernel at once (and the driver, if it has not finished forceGrace later). The driver
// runs in a process group of its own, and Jupyter starts the kernel in a session of its own, so a terminal's
// Ctrl-C reaches only this process, which decides.
type interrupter struct {
	mu     sync.Mutex
	signal os.Signal // the first signal received, nil if none
	count  int
	driver *os.Process // the running driver, nil between notebooks
	kernel int         // the kernel's process group, 0 until the driver reports it
	view   *progressView

	signals chan os.Signal
	done    chan struct{}
}

// newInterrupter starts catching SIGINT and SIGTERM; Stop ends it.
func newInterrupter() *interrupter {
	in := &interrupter{signals: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(in.signals, syscall.SIGINT, syscall.SIGTERM)
	go in.loop()
	return in
}

// Stop restores the default handling of signals.
func (in *interrupter) Stop() {
	signal.Stop(in.signals)
	close(in.done)
}

func (in *interrupter) loop() {
	for {
		select {
		case sig := <-in.signals:
			in.received(sig)
		case <-in.done:
			return
		}
	}
}

func (in *interrupter) received(sig os.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.count++
	if in.signal == nil {
		in.signal = sig
	}
	if in.driver == nil {
		if in.count > 1 {
			os.Exit(exitCode(in.signal))
		}
		return
	}
	// The driver interrupts the cell on the first SIGINT and kills the kernel on the next.
	in.driver.Signal(syscall.SIGINT)
	if in.count == 1 {
		where := in.view.Running()
		if where == "" {
			where = "the notebook (no cell has started yet)"
		}
		in.view.Note(fmt.Sprintf("interrupting %s … (%s again to stop at once)", where, signalName(sig)))
		return
	}
	in.view.Note("stopping at once")
	driver, kernel := in.driver, in.kernel
	time.AfterFunc(forceGrace, func() {
		if kernel > 0 {
			syscall.Kill(-kernel, syscall.SIGKILL)
		}
		syscall.Kill(-driver.Pid, syscall.SIGKILL)
	})
}

// Attach names the driver that signals go to, and the view that says so; Detach ends that.
func (in *interrupter) Attach(driver *os.Process, view *progressView) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.driver, in.view, in.kernel = driver, view, 0
}

func (in *interrupter) Detach() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.driver, in.view = nil, nil
}

// KernelStarted records the kernel's process group, for a second signal to kill.
func (in *interrupter) KernelStarted(pgid int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.kernel = pgid
}

// Interrupted returns the first signal received, or nil.
func (in *interrupter) Interrupted() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.signal
}

// interruptedError ends a run that a signal stopped; the command exits 128+signal, as a shell reports it.
type interruptedError struct {
	signal os.Signal
	where  string
}

func (e *interruptedError) Error() string {
	return fmt.Sprintf("%s: interrupted in %s", signalName(e.signal), e.where)
}

func (e *interruptedError) ExitCode() int { return exitCode(e.signal) }

func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

func signalName(sig os.Signal) string {
	if sig == syscall.SIGINT {
		return "Ctrl-C"
	}
	return "SIGTERM"
}

//go:build unix

package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// peakRSSMiB returns this process's peak resident memory so far, in MiB: on Linux its address space's high-water
// mark (VmHWM in /proc/self/status), elsewhere getrusage's ru_maxrss (bytes on macOS, KiB on the others). Not
// ru_maxrss on Linux: it is kept across exec, so a program started by a large one (bench's PyTorch child, started
// by vfork and exec from the Go process) would report its parent's peak.
func peakRSSMiB() (float64, error) {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			if value, ok := strings.CutPrefix(scanner.Text(), "VmHWM:"); ok {
				kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
				if err == nil {
					return kib / 1024, nil
				}
			}
		}
	}
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, err
	}
	if runtime.GOOS == "darwin" {
		return float64(usage.Maxrss) / (1 << 20), nil
	}
	return float64(usage.Maxrss) / (1 << 10), nil
}

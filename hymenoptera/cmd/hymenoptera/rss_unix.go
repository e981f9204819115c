//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// peakRSSMiB returns this process's peak resident memory so far, in MiB (getrusage's ru_maxrss: KiB on Linux,
// bytes on macOS).
func peakRSSMiB() (float64, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, err
	}
	if runtime.GOOS == "darwin" {
		return float64(usage.Maxrss) / (1 << 20), nil
	}
	return float64(usage.Maxrss) / (1 << 10), nil
}

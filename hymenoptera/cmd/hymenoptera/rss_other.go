//go:build !unix

package main

import (
	"errors"
	"runtime"
)

// peakRSSMiB is not implemented outside Unix systems: bench --mem says so.
func peakRSSMiB() (float64, error) {
	return 0, errors.New("peak resident memory is measured on Unix systems only, not on " + runtime.GOOS)
}

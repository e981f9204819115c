package main

import (
	"os"
	"runtime/debug"
)

// trainingGCPercent is the garbage collector's target for the commands that run the training loop (train and
// bench --mode epoch). Their live heap is about 1 GB, mostly the pure-Go backend's pools of freed buffers and the
// loader's cache of decoded images, and with Go's default target (100) the first epoch's decoding garbage lets
// the heap grow to twice that before a collection. With 25 a fine-tuning epoch peaked at 1.3 GiB resident
// instead of 2.0–2.1, in the same time (README's "Memory"); a forward pass or a training step alone gains nothing,
// their peak being the pools themselves.
const trainingGCPercent = 25

// collectForTraining sets trainingGCPercent unless GOGC is set, in which case the user's value stays. It returns
// the function that restores the previous target.
func collectForTraining() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	previous := debug.SetGCPercent(trainingGCPercent)
	return func() { debug.SetGCPercent(previous) }
}

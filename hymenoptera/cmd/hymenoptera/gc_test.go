package main

import (
	"runtime/debug"
	"testing"
)

func TestCollectForTrainingKeepsTheUsersGOGC(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", trainingGCPercent}, // unset or empty: Go's default, which training lowers
		{"100", 70},             // set: the target stays what it was (70 here, as if the runtime had read it)
		{"off", 70},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			defer debug.SetGCPercent(debug.SetGCPercent(70))
			restore := collectForTraining()
			got := debug.SetGCPercent(70)
			debug.SetGCPercent(got)
			restore()
			if got != tc.want {
				t.Errorf("GC percent during training = %d, want %d", got, tc.want)
			}
			if after := debug.SetGCPercent(70); after != 70 {
				t.Errorf("GC percent after restore = %d, want 70", after)
			}
		})
	}
}

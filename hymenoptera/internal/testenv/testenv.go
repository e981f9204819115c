// Package testenv locates what the project's tests need beyond the Go sources: the repository root, the
// fixtures that the PyTorch reference scripts generate (go generate ./...), and the tutorial's dataset zip.
//
// A missing fixture or dataset skips a test on a developer's machine, with the command that makes it, but fails
// it under CI (CI=true), so that a skipped test is never counted as a pass there.
package testenv

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, found by walking up from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: cannot read the working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// FixturesDir is where the reference scripts write their fixtures: HYMENOPTERA_FIXTURES, or .fixtures/ in the
// repository root.
func FixturesDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("HYMENOPTERA_FIXTURES"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(t), ".fixtures")
}

// Fixture returns the path of fixture name of the given area (a sub-directory of FixturesDir). When it does not
// exist the test is skipped, or failed under CI.
func Fixture(t testing.TB, area, name string) string {
	t.Helper()
	path := filepath.Join(FixturesDir(t), area, name)
	if _, err := os.Stat(path); err != nil {
		missing(t, "fixture %s is missing: run `GOEXPERIMENT=simd go generate ./...` (needs Debian's python3-torch "+
			"and python3-torchvision, run as /usr/bin/python3)", path)
	}
	return path
}

// DatasetZip returns the path of the tutorial's hymenoptera_data.zip: HYMENOPTERA_TEST_ZIP, or
// ../shared/data/hymenoptera_data.zip beside the repository root. When absent the test is skipped, or failed
// under CI.
func DatasetZip(t testing.TB) string {
	t.Helper()
	path := os.Getenv("HYMENOPTERA_TEST_ZIP")
	if path == "" {
		path = filepath.Join(filepath.Dir(RepoRoot(t)), "shared", "data", "hymenoptera_data.zip")
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, "dataset zip %s is missing: set HYMENOPTERA_TEST_ZIP to a copy of hymenoptera_data.zip", path)
	}
	return path
}

// InCI reports whether the tests run under CI, where nothing may be skipped for lack of a fixture.
func InCI() bool { return os.Getenv("CI") == "true" }

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// MaxDiff returns the largest absolute difference between got and want, and that difference relative to the
// largest |want| (the absolute one when want is all zeros): how the golden tests compare with PyTorch. Slices of
// different lengths differ infinitely.
func MaxDiff(got, want []float32) (absolute, relative float64) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1)
	}
	var scale float64
	for i := range got {
		absolute = max(absolute, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return absolute, absolute
	}
	return absolute, absolute / scale
}

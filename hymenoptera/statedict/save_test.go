package statedict

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
)

// reference runs statedict_fixtures.py with args and decodes its JSON answer. Without torch the test is skipped,
// or failed under CI.
func reference(t testing.TB, result any, args ...string) {
	t.Helper()
	err := torchref.RunJSON(result, "statedict_fixtures.py", args...)
	if errors.Is(err, torchref.ErrUnavailable) && !testenv.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// referenceDump is reference's "dump": the file's tensors as torch loads them.
func referenceDump(t *testing.T, path string) described {
	t.Helper()
	var d described
	reference(t, &d, "dump", path)
	return d
}

var testMetadata = map[string]string{"classes": `["ants","bees"]`, "note": "é\n\"quoted\""}

// saveRoundTrip loads a fixture, saves it with metadata through save into a file named name, and checks that both
// Load and the reference script (torch.load, or an independent safetensors reader) read back the same keys,
// values and metadata.
func saveRoundTrip(t *testing.T, fixture, name string, save func(path string, sd *StateDict) error) {
	t.Helper()
	want := widened(loadExpected(t).SD)
	want.Metadata = testMetadata
	sd, err := Load(testenv.Fixture(t, "statedict", fixture))
	if err != nil {
		t.Fatal(err)
	}
	sd.Metadata = testMetadata
	path := filepath.Join(t.TempDir(), name)
	if err := save(path, sd); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertMatches(t, back, want, true)
	assertMatches(t, back, referenceDump(t, path), true)
}

// SavePTH writes what torch.load reads back with the same keys, values and metadata, and what Load reads back.
func TestSavePTHLoadsInTorch(t *testing.T) {
	saveRoundTrip(t, "sd_zip.pth", "saved.pth", SavePTH)
}

// The tutorial's use: a fine-tuned ResNet-18 saved from Go must load strictly into torchvision's model.
func TestSavePTHLoadsStrictlyIntoResNet18(t *testing.T) {
	original := testenv.Fixture(t, "statedict", "resnet18.pth")
	sd, err := Load(original)
	if err != nil {
		t.Fatal(err)
	}
	sd.Metadata = testMetadata
	path := filepath.Join(t.TempDir(), "resnet18.pth")
	if err := SavePTH(path, sd); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Strict     string
		KeysEqual  bool `json:"keys_equal"`
		Mismatched []string
		Metadata   map[string]string
	}
	reference(t, &got, "check-resnet18", path, original)
	if got.Strict != "ok" || !got.KeysEqual || len(got.Mismatched) > 0 || !mapsEqual(got.Metadata, testMetadata) {
		t.Errorf("torch: strict load %q, keys equal %v, mismatched tensors %v, metadata %v (want %v)",
			got.Strict, got.KeysEqual, got.Mismatched, got.Metadata, testMetadata)
	}
}

// SaveSafetensors writes what Load and an independent reader (the reference script's) read back.
func TestSaveSafetensorsRoundTrip(t *testing.T) {
	saveRoundTrip(t, "sd_legacy.pth", "saved.safetensors", SaveSafetensors)
}

func TestSaveRejectsInconsistentStateDicts(t *testing.T) {
	good := func() *StateDict {
		sd := New()
		sd.Set("w", &Tensor{DType: Float32, Shape: []int{2}, Float32: []float32{1, 2}})
		sd.Set("n", &Tensor{DType: Int64, Shape: []int{}, Int64: []int64{3}})
		return sd
	}
	for _, tc := range []struct {
		name    string
		break_  func(sd *StateDict)
		wantErr string
	}{
		{"key without tensor", func(sd *StateDict) { sd.Keys = append(sd.Keys, "ghost") }, `"ghost" has no tensor`},
		{"tensor without key", func(sd *StateDict) { sd.Keys = sd.Keys[:1] }, `"n" is missing from Keys`},
		{"duplicate key", func(sd *StateDict) { sd.Keys = append(sd.Keys, "w") }, "twice"},
		{"too few values", func(sd *StateDict) { sd.Tensors["w"].Shape = []int{3} }, "needs 3 values, has 2"},
		{"values in the wrong field", func(sd *StateDict) { sd.Tensors["n"].DType = Float32 }, "wrong field"},
		{"unknown dtype", func(sd *StateDict) { sd.Tensors["w"].DType = 0 }, "unknown dtype"},
		{"key not UTF-8", func(sd *StateDict) { sd.Set("\xff", &Tensor{DType: Int64, Int64: []int64{1}}) }, "UTF-8"},
		{"metadata not UTF-8", func(sd *StateDict) { sd.Metadata["m"] = "\xff" }, "UTF-8"},
		{"negative dimension", func(sd *StateDict) { sd.Tensors["w"].Shape = []int{-2} }, "invalid shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, save := range []func(string, *StateDict) error{SavePTH, SaveSafetensors} {
				sd := good()
				tc.break_(sd)
				path := filepath.Join(dir, "out")
				err := save(path, sd)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("save = %v; want an error naming %s and saying %q", err, path, tc.wantErr)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("failed saves left %v", entries)
			}
		})
	}
	// The consistent state dict saves, and a missing directory is an error naming the path.
	dir := t.TempDir()
	for _, save := range []func(string, *StateDict) error{SavePTH, SaveSafetensors} {
		if err := save(filepath.Join(dir, "ok"), good()); err != nil {
			t.Error(err)
		}
		missing := filepath.Join(dir, "missing", "out")
		if err := save(missing, good()); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("save into a missing directory = %v, want an error naming %s", err, missing)
		}
	}
}

// BenchmarkLoadResNet18 times Load of a 45 MB ResNet-18 checkpoint beside torch.load of the same file.
func BenchmarkLoadResNet18(b *testing.B) {
	path := testenv.Fixture(b, "statedict", "resnet18.pth")
	var torch struct{ Seconds float64 }
	reference(b, &torch, "time-load", path)
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
	seconds := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(seconds/torch.Seconds, "x_torch")
	b.Logf("Load %.1f ms, torch.load %.1f ms (best of 5): Go takes %.2f× torch's time",
		1e3*seconds, 1e3*torch.Seconds, seconds/torch.Seconds)
}

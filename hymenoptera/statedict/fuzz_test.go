package statedict

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzBudget keeps what one fuzzed input may allocate small, as LoadBounded does for a model.
const fuzzBudget = 1 << 20

// Files that once crashed or misled the loader, or run code if unpickled by Python: testdata/*.pth.
func pthSeeds(t testing.TB) map[string][]byte {
	names, err := filepath.Glob(filepath.Join("testdata", "*.pth"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no seed files in testdata: %v", err)
	}
	seeds := map[string][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		seeds[filepath.Base(name)] = data
	}
	// A data.pkl that announces a string of 2⁶⁰ bytes (BINUNICODE8).
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("archive/data.pkl")
	if err == nil {
		_, err = w.Write(binary.LittleEndian.AppendUint64([]byte{pickleProto, 2, 0x8d}, 1<<60))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	seeds["huge_string.pth"] = buf.Bytes()
	return seeds
}

// checkFuzzResult fails on a state dict that Load returned inconsistent or beyond the budget.
func checkFuzzResult(t *testing.T, sd *StateDict, err error) {
	if err != nil {
		return
	}
	if err := sd.check(); err != nil {
		t.Fatalf("loaded an inconsistent state dict: %v", err)
	}
	n := 0
	for _, tensor := range sd.Tensors {
		n += len(tensor.Float32) + len(tensor.Int64)
	}
	if n > fuzzBudget {
		t.Fatalf("loaded %d elements with a budget of %d", n, fuzzBudget)
	}
}

// FuzzParsePTH: no .pth input (zip or legacy format) panics past parse, hangs, allocates beyond the budget, or
// loads an inconsistent state dict. Run longer with
// `GOEXPERIMENT=simd go test ./hymenoptera/statedict -run '^$' -fuzz FuzzParsePTH -fuzztime 10m -parallel 1`.
func FuzzParsePTH(f *testing.F) {
	for _, data := range pthSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := parse(data, fuzzBudget)
		checkFuzzResult(t, sd, err)
	})
}

// FuzzParseSafetensors is FuzzParsePTH for safetensors files.
func FuzzParseSafetensors(f *testing.F) {
	sd := New()
	sd.Set("w", &Tensor{DType: Float32, Shape: []int{2, 2}, Float32: []float32{1, 2, 3, 4}})
	sd.Set("n", &Tensor{DType: Int64, Shape: []int{}, Int64: []int64{7}})
	sd.Metadata["classes"] = `["ants","bees"]`
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := SaveSafetensors(path, sd); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	header := `{"w":{"dtype":"F16","shape":[1073741824,1073741824],"data_offsets":[0,2]}}`
	f.Add(append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header+"\x00\x00"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := parse(data, fuzzBudget)
		checkFuzzResult(t, sd, err)
	})
}

// A checkpoint of a few hundred bytes whose tensor is an expand() of 2³³ elements, or whose pickle announces a
// string of 2⁶⁰ bytes, is refused before anything is allocated; pickles that would call os.system in Python are
// refused and run nothing.
func TestLoadRefusesBombsAndCode(t *testing.T) {
	for name, want := range map[string]string{
		"expand_bomb.pth":        "expanded tensor",
		"expand_bomb_legacy.pth": "expanded tensor",
		"huge_string.pth":        "announces 1152921504606846976 bytes",
		"os_system.pth":          `key "x" holds a posix.system object`,
		"os_system_legacy.pth":   `key "x" holds a posix.system object`,
	} {
		data := pthSeeds(t)[name]
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s) = %v; want an error naming the file and saying %q", name, err, want)
		}
	}
}

// LoadBounded refuses a state dict larger than its budget before reading its tensors, and a file larger than any
// checkpoint within the budget without reading it.
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "small.pth")
	if err := os.WriteFile(path, pthSeeds(t)["small.pth"], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBounded(path, 100); err != nil {
		t.Fatalf("LoadBounded within the budget: %v", err)
	}
	if _, err := LoadBounded(path, 10); err == nil || !strings.Contains(err.Error(), "more than 10 elements") {
		t.Errorf("LoadBounded over the budget = %v, want an error saying so", err)
	}
	big := filepath.Join(dir, "big.pth")
	if err := os.WriteFile(big, bytes.Repeat([]byte{0}, maxPickleBytes+100), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBounded(big, 1); err == nil || !strings.Contains(err.Error(), "larger than a checkpoint") {
		t.Errorf("LoadBounded of a file too large = %v, want an error saying so", err)
	}
}

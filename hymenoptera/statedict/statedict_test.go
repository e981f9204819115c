package statedict

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// described is a state dict as the reference script describes it (statedict_fixtures.py's describe()): values as
// torch sees them, floats converted to float32 and the rest to int64.
type described struct {
	Keys    []string
	Tensors map[string]struct {
		DType  string
		Shape  []int
		Values []json.Number
	}
	Metadata map[string]string
}

type expectedFixtures struct {
	SD                  described         `json:"sd"`
	ModuleParams        described         `json:"module_params"`
	SafetensorsMetadata map[string]string `json:"safetensors_metadata"`
}

func decodeJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func loadExpected(t *testing.T) expectedFixtures {
	t.Helper()
	data, err := os.ReadFile(testenv.Fixture(t, "statedict", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expectedFixtures
	decodeJSON(t, data, &e)
	return e
}

// widened is what SavePTH and SaveSafetensors make of want: float32 and int64 tensors, same values.
func widened(want described) described {
	tensors := maps.Clone(want.Tensors)
	for k, tensor := range tensors {
		tensor.DType = "int64"
		if dtypeByName(want.Tensors[k].DType).IsFloat() {
			tensor.DType = "float32"
		}
		tensors[k] = tensor
	}
	want.Tensors = tensors
	return want
}

func dtypeByName(name string) DType {
	for d, n := range dtypeNames {
		if n == name {
			return d
		}
	}
	return 0
}

// zipWith returns a zip archive holding empty records with the given names.
func zipWith(t *testing.T, names ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		if _, err := zw.Create(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertMatches checks keys (in order), dtypes, shapes and exact values; metadata only when checkMetadata.
func assertMatches(t *testing.T, got *StateDict, want described, checkMetadata bool) {
	t.Helper()
	if !slices.Equal(got.Keys, want.Keys) {
		t.Fatalf("keys %v, want %v", got.Keys, want.Keys)
	}
	if len(got.Tensors) != len(want.Keys) {
		t.Errorf("%d tensors for %d keys", len(got.Tensors), len(want.Keys))
	}
	for _, key := range want.Keys {
		g, w := got.Tensors[key], want.Tensors[key]
		if g.DType.String() != w.DType || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s: %s%v, want %s%v", key, g.DType, g.Shape, w.DType, w.Shape)
			continue
		}
		if err := g.check(); err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		for i, v := range w.Values {
			if g.DType.IsFloat() {
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil || g.Float32[i] != float32(f) {
					t.Errorf("%s[%d] = %v, want %s", key, i, g.Float32[i], v)
				}
			} else if n, err := strconv.ParseInt(string(v), 10, 64); err != nil || g.Int64[i] != n {
				t.Errorf("%s[%d] = %v, want %s", key, i, g.Int64[i], v)
			}
		}
	}
	if checkMetadata && !mapsEqual(got.Metadata, want.Metadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestLoadFixtures(t *testing.T) {
	want := loadExpected(t)
	for _, name := range []string{"sd_zip.pth", "sd_legacy.pth", "sd.safetensors", "wrapped_state_dict.pth",
		"wrapped_model_legacy.pth"} {
		t.Run(name, func(t *testing.T) {
			sd, err := Load(testenv.Fixture(t, "statedict", name))
			if err != nil {
				t.Fatal(err)
			}
			expected := want.SD
			if name == "sd.safetensors" {
				expected.Metadata = want.SafetensorsMetadata
			}
			assertMatches(t, sd, expected, true)
		})
	}
}

// PyTorch 2.1 and later add records to the zip format: <archive>/byteorder ("little" or "big") and, since 2.2,
// <archive>/.data/serialization_id. A checkpoint saved that way loads like the same one from PyTorch 1.13 (the
// torch that makes the fixtures), and a big-endian one is refused by name.
func TestLoadNewerZipRecords(t *testing.T) {
	want := loadExpected(t)
	source, err := zip.OpenReader(testenv.Fixture(t, "statedict", "sd_zip.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	prefix, _, _ := strings.Cut(source.File[0].Name, "/")
	for order, wantErr := range map[string]string{"little": "", "big": `byte order "big"`} {
		t.Run(order, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, f := range source.File {
				if err := zw.Copy(f); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range map[string]string{"byteorder": order, ".data/serialization_id": "0123456789"} {
				w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "/" + name, Method: zip.Store})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write([]byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "torch2.pth")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			sd, err := Load(path)
			if wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("Load = %v; want an error naming %s and saying %s", err, path, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertMatches(t, sd, want.SD, true)
		})
	}
}

// A module's state_dict(keep_vars=True) pickles nn.Parameter values and torch's per-module _metadata versions,
// which are not ours: Metadata stays empty.
func TestLoadModuleParameters(t *testing.T) {
	want := loadExpected(t)
	sd, err := Load(testenv.Fixture(t, "statedict", "module_params.pth"))
	if err != nil {
		t.Fatal(err)
	}
	assertMatches(t, sd, want.ModuleParams, true)
	if sd.Metadata == nil {
		t.Error("Metadata is nil, want an empty map")
	}
}

// Every float16 and bfloat16 value converts to the float32 that torch's .float() gives.
func TestLoadEveryHalfPrecisionValue(t *testing.T) {
	data, err := os.ReadFile(testenv.Fixture(t, "statedict", "halfs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]int32
	decodeJSON(t, data, &want)
	sd, err := Load(testenv.Fixture(t, "statedict", "halfs.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"float16", "bfloat16"} {
		got := sd.Tensors[key].Float32
		if len(got) != 1<<16 || len(want[key]) != 1<<16 {
			t.Fatalf("%s: %d values, reference %d; want 65536", key, len(got), len(want[key]))
		}
		for i, bits := range want[key] {
			w := math.Float32frombits(uint32(bits))
			if g := got[i]; math.Float32bits(g) != uint32(bits) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
				t.Errorf("%s value %d: got %v (%#08x), torch %v (%#08x)", key, i, g, math.Float32bits(g), w, uint32(bits))
			}
		}
	}
}

func TestLoadRejectsWhatIsNotACheckpoint(t *testing.T) {
	saved := filepath.Join(t.TempDir(), "saved.pth")
	sd := New()
	sd.Set("w", &Tensor{DType: Float32, Shape: []int{3}, Float32: []float32{1, 2, 3}})
	if err := SavePTH(saved, sd); err != nil {
		t.Fatal(err)
	}
	pth, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	safetensors := func(header string, data int) []byte {
		b := binaryLen(len(header))
		return append(append(b, header...), make([]byte, data)...)
	}
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"empty", "", "not a PyTorch checkpoint"},
		{"text", "hello, this is not a checkpoint\n", "not a PyTorch checkpoint"},
		{"random", string(pseudoRandomBytes(4096)), "not a PyTorch checkpoint"},
		{"plain pickle", "\x80\x02K\x07.", "magic number"},
		{"truncated zip", string(pth[:len(pth)-30]), "zip"},
		{"zip without data.pkl", string(zipWith(t, "archive/other.txt")), "data.pkl"},
		{"torchscript", string(zipWith(t, "archive/data.pkl", "archive/constants.pkl")), "TorchScript"},
		{"safetensors header too long", string(safetensors(`{"a":1}`, 0)[:12]), "claims"},
		{"safetensors header not JSON", string(safetensors(`{"a":`, 0)), "header"},
		{"safetensors unknown dtype", string(safetensors(`{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, 8)), `"C64"`},
		{"safetensors offsets past data", string(safetensors(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4)), "outside"},
		{"safetensors offsets wrong size", string(safetensors(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8)), "needs 12"},
		{"safetensors bad metadata", string(safetensors(`{"__metadata__":{"a":1}}`, 0)), "__metadata__"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.pth")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Load = %v; want an error naming %s and saying %q", err, path, tc.wantErr)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.pth")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

// torch.save(model) pickles the module object: Load says so, rather than failing on the module's internals.
func TestLoadRejectsPickledModules(t *testing.T) {
	for name, want := range map[string]string{
		"whole_module.pth":         "the file holds a pickled torch.nn.modules.container.Sequential object",
		"wrapped_whole_module.pth": `key "model" holds a pickled torch.nn.modules.container.Sequential object`,
	} {
		_, err := Load(testenv.Fixture(t, "statedict", name))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "model.state_dict()") {
			t.Errorf("Load(%s) = %v; want an error saying %q and how to save a state dict", name, err, want)
		}
	}
}

// Every truncation of every format is an error, never a panic or a partial state dict.
func TestLoadRejectsEveryTruncation(t *testing.T) {
	for _, name := range []string{"sd_zip.pth", "sd_legacy.pth", "sd.safetensors"} {
		data, err := os.ReadFile(testenv.Fixture(t, "statedict", name))
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(data) {
			if sd, err := parse(data[:n], DefaultMaxElements); err == nil {
				t.Errorf("%s cut to %d of %d bytes loaded %d keys, want an error", name, n, len(data), len(sd.Keys))
			}
		}
	}
}

func binaryLen(n int) []byte {
	return []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0}
}

func pseudoRandomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

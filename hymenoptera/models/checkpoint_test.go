package models_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

func newModel(t *testing.T, opts models.Options) *models.ResNet {
	t.Helper()
	m, err := models.ResNet18(testBackends(t)["go"], opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestStateDictKeysMatchTorchvision: the model's keys, order and shapes are exactly those of torchvision's
// resnet18 state_dict (as saved by PyTorch in the fixture).
func TestStateDictKeysMatchTorchvision(t *testing.T) {
	torch, err := statedict.Load(testenv.Fixture(t, "model", "resnet18_random.pth"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newModel(t, models.Options{}).StateDict()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ours.Keys, torch.Keys) {
		t.Fatalf("keys differ from torchvision's:\nours  %v\ntorch %v", ours.Keys, torch.Keys)
	}
	for _, key := range torch.Keys {
		if !slices.Equal(ours.Tensors[key].Shape, torch.Tensors[key].Shape) || ours.Tensors[key].DType != torch.Tensors[key].DType {
			t.Errorf("%s: ours %v %s, torchvision %v %s", key, ours.Tensors[key].Shape, ours.Tensors[key].DType,
				torch.Tensors[key].Shape, torch.Tensors[key].DType)
		}
	}
	if got := newModel(t, models.Options{}).CountParameters(); got != models.ResNet18ImageNet1KV1.NumParams {
		t.Errorf("CountParameters = %d, torchvision's metadata says %d", got, models.ResNet18ImageNet1KV1.NumParams)
	}
}

// TestReplaceHead: the tutorial's `model.fc = nn.Linear(num_ftrs, 2)`: a 2-output head initialised like
// nn.Linear, the backbone untouched.
func TestReplaceHead(t *testing.T) {
	m := newModel(t, models.Options{Seed: 3})
	before, _ := m.StateDict()
	if err := m.ReplaceHead(2, 9); err != nil {
		t.Fatal(err)
	}
	after, _ := m.StateDict()
	if m.NumClasses() != 2 || !slices.Equal(after.Tensors["fc.weight"].Shape, []int{2, models.FeatureWidth}) {
		t.Fatalf("head has %d classes, fc.weight %v", m.NumClasses(), after.Tensors["fc.weight"].Shape)
	}
	bound := float32(1 / math.Sqrt(models.FeatureWidth))
	for _, key := range []string{"fc.weight", "fc.bias"} {
		values := after.Tensors[key].Float32
		lo, hi := slices.Min(values), slices.Max(values)
		if lo < -bound || hi > bound || (len(values) > 100 && hi-lo < bound) {
			t.Errorf("%s spans [%g, %g], want values spread inside ±1/√512 = ±%g", key, lo, hi, bound)
		}
	}
	if !slices.Equal(after.Tensors["layer4.1.conv2.weight"].Float32, before.Tensors["layer4.1.conv2.weight"].Float32) {
		t.Error("replacing the head changed the backbone")
	}
	if err := m.ReplaceHead(0, 1); err == nil {
		t.Error("a head of 0 classes was accepted")
	}
	images := tensors.FromFlatDataAndDimensions(make([]float32, 2*64*64*3), 2, 64, 64, 3)
	m.Eval()
	logits, err := m.Forward(images)
	if err != nil {
		t.Fatal(err)
	}
	if dims := logits.Shape().Dimensions; !slices.Equal(dims, []int{2, 2}) {
		t.Errorf("logits shape %v, want [2 2]", dims)
	}
}

// TestLoadTwoClassCheckpoint: a fine-tuned checkpoint with a 2-class head loads as a 2-class model.
func TestLoadTwoClassCheckpoint(t *testing.T) {
	m, err := models.FromCheckpoint(testBackends(t)["go"], testenv.Fixture(t, "model", "resnet18_2class.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if m.NumClasses() != 2 {
		t.Errorf("NumClasses = %d, want 2", m.NumClasses())
	}
}

// TestClassesTravelWithCheckpoint: class names saved by StateDict come back with LoadStateDict.
func TestClassesTravelWithCheckpoint(t *testing.T) {
	m := newModel(t, models.Options{NumClasses: 2})
	m.Classes = []string{"ants", "bees"}
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "two.pth")
	if err := statedict.SavePTH(path, sd); err != nil {
		t.Fatal(err)
	}
	loaded, err := models.FromCheckpoint(testBackends(t)["go"], path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(loaded.Classes, m.Classes) {
		t.Errorf("classes after the round trip: %v, want %v", loaded.Classes, m.Classes)
	}
}

// TestBadCheckpoints: each broken checkpoint gives an error naming the file and, where it applies, the key;
// never a panic, and a failed load leaves the model unchanged.
func TestBadCheckpoints(t *testing.T) {
	good := testenv.Fixture(t, "model", "resnet18_random.pth")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mutate := func(name string, change func(sd *statedict.StateDict)) string {
		sd, err := statedict.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		change(sd)
		path := filepath.Join(dir, name)
		if err := statedict.SavePTH(path, sd); err != nil {
			t.Fatal(err)
		}
		return path
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i/13)
	}
	cases := []struct {
		name, path string
		want       []string // substrings of the error
	}{
		{"truncated", write("truncated.pth", data[:len(data)/2]), []string{"truncated.pth"}},
		{"random bytes", write("random.pth", random), []string{"random.pth"}},
		{"empty", write("empty.pth", nil), []string{"empty.pth"}},
		{"missing key", mutate("missing.pth", func(sd *statedict.StateDict) {
			delete(sd.Tensors, "layer3.1.bn1.running_var")
			sd.Keys = slices.DeleteFunc(sd.Keys, func(k string) bool { return k == "layer3.1.bn1.running_var" })
		}), []string{"missing.pth", "layer3.1.bn1.running_var", "missing"}},
		{"extra key", mutate("extra.pth", func(sd *statedict.StateDict) {
			sd.Set("layer5.0.conv1.weight", &statedict.Tensor{DType: statedict.Float32, Shape: []int{1}, Float32: []float32{1}})
		}), []string{"extra.pth", "layer5.0.conv1.weight", "unexpected"}},
		{"wrong shape", mutate("shape.pth", func(sd *statedict.StateDict) {
			sd.Tensors["layer2.0.conv1.weight"] = &statedict.Tensor{DType: statedict.Float32, Shape: []int{128, 64, 1, 1},
				Float32: make([]float32, 128*64)}
		}), []string{"shape.pth", "layer2.0.conv1.weight", "[128 64 1 1]"}},
		{"resnet34", testenv.Fixture(t, "model", "resnet34_random.pth"), []string{"resnet34_random.pth", "resnet34", "layer1.2."}},
	}
	m := newModel(t, models.Options{Seed: 5})
	before, _ := m.StateDict()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				sd, err := statedict.Load(tc.path)
				if err != nil {
					return err
				}
				return m.LoadStateDict(sd, tc.path)
			}()
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
	after, _ := m.StateDict()
	for _, key := range before.Keys {
		if !slices.Equal(before.Tensors[key].Float32, after.Tensors[key].Float32) {
			t.Fatalf("a failed load changed %s", key)
		}
	}
}

// TestWeightsDescriptor: torchvision's IMAGENET1K_V1 facts.
func TestWeightsDescriptor(t *testing.T) {
	w := models.ResNet18ImageNet1KV1
	if w.SHA256Prefix() != "f37072fd" || w.FileName() != "resnet18-f37072fd.pth" {
		t.Errorf("file %q, prefix %q", w.FileName(), w.SHA256Prefix())
	}
	if len(w.Categories) != 1000 || w.Categories[0] != "tench" || w.Categories[309] != "bee" || w.Categories[310] != "ant" {
		t.Errorf("categories: %d names, [0]=%q [309]=%q [310]=%q", len(w.Categories), w.Categories[0],
			w.Categories[309], w.Categories[310])
	}
	if w.Acc1 != 69.758 || w.Acc5 != 89.078 || w.ResizeSize != 256 || w.CropSize != 224 {
		t.Errorf("metadata %+v", w)
	}
}

func sha256Prefix(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:8]
}

// TestWeightsFetch: torch.hub's cache is used without network; offline with nothing cached, the error says how
// to provide the file; no environment variable is read (HYMENOPTERA_WEIGHTS and HYMENOPTERA_CACHE are settings of
// the tutorial package and the CLI).
func TestWeightsFetch(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HYMENOPTERA_CACHE", filepath.Join(dir, "ignored"))
	t.Setenv("HYMENOPTERA_WEIGHTS", testenv.Fixture(t, "model", "resnet18_random.pth"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("TORCH_HOME", "")
	offline := httptest.NewServer(http.NotFoundHandler())
	offline.Close()
	w := models.ResNet18ImageNet1KV1
	w.URL = offline.URL + "/models/" + w.FileName()
	opts := models.FetchOptions{CacheDir: filepath.Join(dir, "cache")}

	_, err := w.Fetch(context.Background(), opts)
	wantDir := filepath.Join(dir, "cache", "checkpoints")
	if err == nil || !strings.Contains(err.Error(), wantDir) || !strings.Contains(err.Error(), "--weights FILE") ||
		!strings.Contains(err.Error(), "resnet18-f37072fd.pth") {
		t.Errorf("offline error %v should name the file, %s and how to start from a file", err, wantDir)
	}

	torchCopy := filepath.Join(dir, "xdg", "torch", "hub", "checkpoints", w.FileName())
	if err := os.MkdirAll(filepath.Dir(torchCopy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torchCopy, []byte("not the weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Fetch(context.Background(), opts); err == nil || !strings.Contains(err.Error(), torchCopy) {
		t.Errorf("a corrupt copy in torch.hub's cache gave %v, want an error naming it", err)
	}
	good, err := os.ReadFile(testenv.Fixture(t, "model", "resnet18_random.pth"))
	if err != nil {
		t.Fatal(err)
	}
	w.URL = strings.Replace(w.URL, w.FileName(), "resnet18-"+sha256Prefix(good)+".pth", 1)
	torchCopy = filepath.Join(filepath.Dir(torchCopy), w.FileName())
	if err := os.WriteFile(torchCopy, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Fetch(context.Background(), opts); err != nil || got != torchCopy {
		t.Errorf("with torch.hub's copy: %q, %v; want %q", got, err, torchCopy)
	}

	m, err := models.Pretrained(context.Background(), testBackends(t)["go"], w, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Classes) != 1000 || m.Classes[310] != "ant" {
		t.Errorf("pretrained model's classes: %d", len(m.Classes))
	}
}

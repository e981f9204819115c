package explain

//go:generate /usr/bin/python3 ../reference/explain_fixtures.py

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/numpy"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/predict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// expected is .fixtures/explain/expected.json, written by reference/explain_fixtures.py.
type expected struct {
	Checkpoint       string   `json:"checkpoint"`
	CheckpointSHA256 string   `json:"checkpoint_sha256"`
	Files            []string `json:"files"`
	CamFiles         []string `json:"cam_files"`
	Confusion        [][]int  `json:"confusion"`
	MinMargin        float64  `json:"min_margin"`
}

// golden is what the tests share: the fixtures, and the model's evaluation of the validation split, which takes
// a few seconds and is made once.
type golden struct {
	dir       string
	want      expected
	arrays    map[string]*tensors.Tensor
	explainer *Explainer
	once      sync.Once
	ev        *Evaluation
	evErr     error
}

var (
	goldenOnce  sync.Once
	goldenValue *golden
)

func loadGolden(t *testing.T) *golden {
	t.Helper()
	path := testenv.Fixture(t, "explain", "expected.json")
	npz := testenv.Fixture(t, "explain", "explain.npz")
	goldenOnce.Do(func() {
		g := &golden{dir: filepath.Dir(path)}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &g.want); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checkpoint := filepath.Join(g.dir, g.want.Checkpoint)
		weights, err := os.ReadFile(checkpoint)
		if err != nil {
			t.Fatalf("%v: run `GOEXPERIMENT=simd go generate ./...`", err)
		}
		if sum := sha256.Sum256(weights); hex.EncodeToString(sum[:]) != g.want.CheckpointSHA256 {
			t.Fatalf("%s is not the checkpoint %s was made with: run `GOEXPERIMENT=simd go generate ./...`",
				checkpoint, path)
		}
		if g.arrays, err = numpy.FromNpzFile(npz); err != nil {
			t.Fatal(err)
		}
		backend, err := backends.NewWithConfig(backends.GoBackend)
		if err != nil {
			t.Fatal(err)
		}
		m, err := models.FromCheckpoint(backend, checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		if g.explainer, err = New(m); err != nil {
			t.Fatal(err)
		}
		goldenValue = g
	})
	if goldenValue == nil {
		t.Fatal("the explain fixtures could not be loaded (see the first failing test)")
	}
	return goldenValue
}

func (g *golden) array(t *testing.T, name string) ([]float64, []int) {
	t.Helper()
	x, ok := g.arrays[name]
	if !ok {
		t.Fatalf("explain.npz has no %q: run `GOEXPERIMENT=simd go generate ./...`", name)
	}
	var values []float64
	switch x.DType() {
	case dtypes.Float32:
		for _, v := range mustCopy[float32](t, x) {
			values = append(values, float64(v))
		}
	case dtypes.Float64:
		values = mustCopy[float64](t, x)
	case dtypes.Int64:
		for _, v := range mustCopy[int64](t, x) {
			values = append(values, float64(v))
		}
	default:
		t.Fatalf("%s: unexpected dtype %s", name, x.DType())
	}
	return values, x.Shape().Dimensions
}

func mustCopy[T float32 | float64 | int64](t *testing.T, x *tensors.Tensor) []T {
	t.Helper()
	data, err := tensors.CopyFlatData[T](x)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// evaluation runs Evaluate once on the extracted validation split, in ImageFolder's order, as the reference did.
func (g *golden) evaluation(t *testing.T) *Evaluation {
	t.Helper()
	g.once.Do(func() {
		folder, err := datasets.NewImageFolder(filepath.Join(g.dir, "val"))
		if err != nil {
			g.evErr = err
			return
		}
		var files []string
		for _, s := range folder.Samples {
			rel, _ := filepath.Rel(g.dir, s.Path)
			files = append(files, filepath.ToSlash(rel))
		}
		if !slices.Equal(files, g.want.Files) {
			t.Errorf("ImageFolder's order differs from torchvision's:\n%v\n%v", files, g.want.Files)
		}
		loader := dataloader.New(folder, transforms.Val(224), dataloader.Options{BatchSize: 16})
		g.ev, g.evErr = g.explainer.Evaluate(context.Background(), loader)
	})
	if g.evErr != nil {
		t.Fatal(g.evErr)
	}
	return g.ev
}

func float32s(values []float64) []float32 {
	out := make([]float32, len(values))
	for i, v := range values {
		out[i] = float32(v)
	}
	return out
}

// TestGradCAMMatchesPyTorch: the Grad-CAM of six validation images (three of each class), for the predicted and
// for the other class, equals the maps that PyTorch's forward and backward hooks on layer4 give (ReLU of the
// channels weighted by the spatial mean of the gradient), within 1e-4 relative on the 7×7 maps (relative to the
// largest value of all maps: some maps are all zeros); the bilinear upsampling to 224×224 equals
// F.interpolate(align_corners=False)'s within 1e-3 relative.
func TestGradCAMMatchesPyTorch(t *testing.T) {
	g := loadGolden(t)
	var paths []string
	for _, f := range g.want.CamFiles {
		paths = append(paths, filepath.Join(g.dir, f))
	}
	images, errs := predict.PrepareFiles(paths, transforms.Val(224))
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantLogits, _ := g.array(t, "cam_logits")
	predicted, err := g.explainer.GradCAM(images, nil)
	if err != nil {
		t.Fatal(err)
	}
	others := make([]int, len(images))
	var gotPred, gotOther, gotUp []float32
	for i, h := range predicted {
		row := float32s(wantLogits[2*i : 2*i+2])
		if want := predict.ArgMax(row); h.Class != want {
			t.Errorf("%s: explained class %d, PyTorch predicts %d", paths[i], h.Class, want)
		}
		if math.Abs(h.Probability-predict.Softmax(row)[h.Class]) > 1e-5 {
			t.Errorf("%s: probability %v, PyTorch's logits give %v", paths[i], h.Probability, predict.Softmax(row)[h.Class])
		}
		if h.H != 7 || h.W != 7 {
			t.Fatalf("%s: a %d×%d map, want 7×7", paths[i], h.H, h.W)
		}
		others[i] = 1 - h.Class
		gotPred = append(gotPred, h.Map...)
		gotUp = append(gotUp, h.Upsample(224, 224)...)
	}
	other, err := g.explainer.GradCAM(images, others)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range other {
		if h.Class != others[i] {
			t.Errorf("image %d: explained class %d, asked %d", i, h.Class, others[i])
		}
		gotOther = append(gotOther, h.Map...)
	}
	wantPred, _ := g.array(t, "cam7_pred")
	wantOther, _ := g.array(t, "cam7_other")
	wantUp, _ := g.array(t, "cam224_pred")
	absolute, relative := testenv.MaxDiff(append(gotPred, gotOther...), float32s(append(wantPred, wantOther...)))
	t.Logf("7×7 maps: largest difference %.2g (%.2g relative)", absolute, relative)
	if relative > 1e-4 {
		t.Errorf("the 7×7 maps differ from PyTorch's by %.3g relative (> 1e-4)", relative)
	}
	absolute, relative = testenv.MaxDiff(gotUp, float32s(wantUp))
	t.Logf("upsampled maps: largest difference %.2g (%.2g relative)", absolute, relative)
	if relative > 1e-3 {
		t.Errorf("the upsampled maps differ from PyTorch's by %.3g relative (> 1e-3)", relative)
	}
}

// TestEvaluationMatchesPyTorch: on the whole validation split, the logits and pooled features equal PyTorch's
// within 1e-4 (relative to the largest), and so the predictions, the confusion counts and the mistakes do. The
// fixture's head keeps every image at least min_margin (about 0.06) from a tie, far above the logits' error.
func TestEvaluationMatchesPyTorch(t *testing.T) {
	g := loadGolden(t)
	ev := g.evaluation(t)
	wantLogits, _ := g.array(t, "logits")
	wantLabels, _ := g.array(t, "labels")
	wantFeatures, _ := g.array(t, "features")
	if len(ev.Samples) != len(wantLabels) {
		t.Fatalf("%d samples, PyTorch evaluated %d", len(ev.Samples), len(wantLabels))
	}
	var logits, features []float32
	for i, s := range ev.Samples {
		if s.Index != i || s.Label != int(wantLabels[i]) {
			t.Fatalf("sample %d is image %d with label %d, want image %d with label %v", i, s.Index, s.Label, i,
				wantLabels[i])
		}
		logits = append(logits, s.Logits...)
		features = append(features, s.Features...)
	}
	for name, c := range map[string]struct{ got, want []float32 }{
		"logits": {logits, float32s(wantLogits)}, "features": {features, float32s(wantFeatures)},
	} {
		absolute, relative := testenv.MaxDiff(c.got, c.want)
		t.Logf("%s: largest difference %.2g (%.2g relative)", name, absolute, relative)
		if relative > 1e-4 {
			t.Errorf("%s differ from PyTorch's by %.3g relative (> 1e-4)", name, relative)
		}
	}
	confusion := ev.Confusion()
	if !slices.EqualFunc(confusion.Counts, g.want.Confusion, slices.Equal) {
		t.Errorf("confusion counts %v, PyTorch's %v", confusion.Counts, g.want.Confusion)
	}
	wrong := 0
	for _, s := range ev.Samples {
		if s.Predicted != s.Label {
			if ev.Mistakes[wrong].Index != s.Index || ev.Mistakes[wrong].Image == nil {
				t.Fatalf("mistake %d is image %d, want %d with its image", wrong, ev.Mistakes[wrong].Index, s.Index)
			}
			wrong++
		}
	}
	if want := g.want.Confusion[0][1] + g.want.Confusion[1][0]; len(ev.Mistakes) != want || wrong != want {
		t.Errorf("%d mistakes listed, %d samples wrong; PyTorch's matrix has %d", len(ev.Mistakes), wrong, want)
	}
}

// TestPCAMatchesNumpy: the PCA of PyTorch's features equals numpy's SVD-based projection up to each component's
// sign, within 1e-9 relative (both in float64), and so do the explained variance ratios.
func TestPCAMatchesNumpy(t *testing.T) {
	g := loadGolden(t)
	features, dims := g.array(t, "features")
	rows := make([][]float32, dims[0])
	for i := range rows {
		rows[i] = float32s(features[i*dims[1] : (i+1)*dims[1]])
	}
	p, err := PCA(rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.array(t, "pca")
	wantRatio, _ := g.array(t, "pca_ratio")
	for c := range 2 {
		sign := 1.0
		if p.Points[0][c]*want[c] < 0 {
			sign = -1
		}
		var worst, scale float64
		for i, point := range p.Points {
			worst = max(worst, math.Abs(sign*point[c]-want[2*i+c]))
			scale = max(scale, math.Abs(want[2*i+c]))
		}
		t.Logf("component %d: largest difference %.2g relative", c, worst/scale)
		if worst > 1e-9*scale {
			t.Errorf("component %d differs from numpy's by %.3g relative (> 1e-9)", c, worst/scale)
		}
		if math.Abs(p.ExplainedVariance[c]-wantRatio[c]) > 1e-9 {
			t.Errorf("component %d explains %v of the variance, numpy says %v", c, p.ExplainedVariance[c], wantRatio[c])
		}
	}
}

// TestGradCAMRejectsBadInput: a class out of range, a class list of the wrong length and images of different
// sizes are errors that say what is wrong.
func TestGradCAMRejectsBadInput(t *testing.T) {
	g := loadGolden(t)
	image := func(h, w int) *transforms.Tensor {
		return &transforms.Tensor{Data: make([]float32, h*w*3), H: h, W: w, C: 3}
	}
	for _, c := range []struct {
		name    string
		images  []*transforms.Tensor
		classes []int
		want    string
	}{
		{"class out of range", []*transforms.Tensor{image(64, 64)}, []int{2}, "class 2 of image 0 is out of range"},
		{"negative class", []*transforms.Tensor{image(64, 64)}, []int{-1}, "out of range"},
		{"classes for other images", []*transforms.Tensor{image(64, 64)}, []int{0, 1}, "2 classes for 1 images"},
		{"sizes differ", []*transforms.Tensor{image(64, 64), image(64, 96)}, nil, "image 1 is not a 64×64"},
		{"too small", []*transforms.Tensor{image(16, 16)}, nil, "too small"},
		{"no image", nil, nil, "no image"},
	} {
		if _, err := g.explainer.GradCAM(c.images, c.classes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

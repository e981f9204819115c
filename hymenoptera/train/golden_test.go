package train_test

//go:generate /usr/bin/python3 ../reference/train_fixtures.py

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/numpy"

	"github.com/hymenoptera-go/tutorial/hymenoptera/backends"
	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/torchref"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// The settings of hymenoptera/reference/train_fixtures.py.
const (
	goldenLR       = 0.001
	goldenMomentum = 0.9
	goldenStepSize = 4
	goldenGamma    = 0.1
)

func goBackend(t testing.TB) compute.Backend {
	t.Helper()
	backend, err := backends.NewWithConfig(backends.GoBackend)
	if err != nil {
		t.Fatal(err)
	}
	return backend
}

func fixture(t *testing.T, name string) string { return testenv.Fixture(t, "train", name) }

func npz(t *testing.T, name string) map[string]*tensors.Tensor {
	t.Helper()
	arrays, err := numpy.FromNpzFile(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return arrays
}

// relativeDiff is max|a−b| / max|b|.
func relativeDiff(a, b []float32) float64 {
	_, relative := testenv.MaxDiff(a, b)
	return relative
}

// TestGoldenSGDSteps: nine SGD-momentum steps with StepLR(step_size=4, gamma=0.1) stepped after each step, across
// two learning-rate drops, in both scenarios, give PyTorch's losses at every step and PyTorch's final parameters
// and BatchNorm statistics to 1e-4 relative (measured: under 1e-6). The parameters' changes (final − start) are
// compared too, so that a wrong momentum or learning rate cannot hide behind the size of the weights: they match
// to 1e-3 of the largest change, plus 1e-6 of the largest weight — float32 stores a weight near 1 to 6e-8, which
// after nine steps limits a change of 1e-5 to about 1e-2 relative; PyTorch's own float32 run is that far from
// its float64 run.
func TestGoldenSGDSteps(t *testing.T) {
	batches := npz(t, "batches.npz")
	images := batches["images"]
	labels := batches["labels"]
	dims := images.Shape().Dimensions // [steps, 4, 64, 64, 3]
	allImages := tensors.MustCopyFlatData[float32](images)
	allLabels := tensors.MustCopyFlatData[int32](labels)
	perBatch := dims[1] * dims[2] * dims[3] * dims[4]
	start, err := statedict.Load(fixture(t, "start.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scenario := range []train.Scenario{train.FineTune, train.FixedFeatureExtractor} {
		t.Run(string(scenario), func(t *testing.T) {
			m, err := models.FromCheckpoint(goBackend(t), fixture(t, "start.pth"))
			if err != nil {
				t.Fatal(err)
			}
			optimizer := &train.SGD{Params: scenario.Parameters(m), LR: goldenLR, Momentum: goldenMomentum}
			stepper, err := train.NewStepper(m, train.CrossEntropyLoss, optimizer)
			if err != nil {
				t.Fatal(err)
			}
			want := npz(t, string(scenario)+".npz")
			wantLoss := tensors.MustCopyFlatData[float32](want["loss"])
			m.Train()
			for step := range dims[0] {
				labels := make([]int, dims[1])
				for i, l := range allLabels[step*dims[1] : (step+1)*dims[1]] {
					labels[i] = int(l)
				}
				batch := dataloader.Batch{Images: allImages[step*perBatch : (step+1)*perBatch], N: dims[1], H: dims[2],
					W: dims[3], Labels: labels}
				optimizer.LR = train.LearningRate(goldenLR, goldenStepSize, goldenGamma, step)
				result, err := stepper.Train(batch)
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(result.Loss-float64(wantLoss[step])) / math.Abs(float64(wantLoss[step])); d > 1e-4 {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f", step, result.Loss, wantLoss[step])
				}
			}
			final, err := statedict.Load(fixture(t, string(scenario)+"_final.pth"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			var worst, worstDelta float64
			for _, key := range final.Keys {
				w, g := final.Tensors[key], got.Tensors[key]
				if !w.DType.IsFloat() {
					if g.Int64[0] != w.Int64[0] {
						t.Errorf("%s = %d, PyTorch %d", key, g.Int64[0], w.Int64[0])
					}
					continue
				}
				d := relativeDiff(g.Float32, w.Float32)
				worst = max(worst, d)
				if d > 1e-4 {
					t.Errorf("%s differs from PyTorch by %.3g relative", key, d)
				}
				if models.IsBuffer(key) {
					continue
				}
				s := start.Tensors[key].Float32
				var diff, largestChange, largestWeight float64
				for i := range s {
					gotChange, wantChange := float64(g.Float32[i]-s[i]), float64(w.Float32[i]-s[i])
					diff = max(diff, math.Abs(gotChange-wantChange))
					largestChange = max(largestChange, math.Abs(wantChange))
					largestWeight = max(largestWeight, math.Abs(float64(w.Float32[i])))
				}
				if largestChange == 0 { // a frozen parameter must not move at all
					if diff != 0 {
						t.Errorf("%s is frozen in PyTorch but changed by %.3g", key, diff)
					}
					continue
				}
				if diff > 1e-3*largestChange+1e-6*largestWeight {
					t.Errorf("%s: its change differs from PyTorch's by %.3g (largest change %.3g)", key, diff, largestChange)
				}
				worstDelta = max(worstDelta, diff/largestChange)
			}
			t.Logf("worst relative difference from PyTorch: %.2g on values, %.2g on parameter changes", worst, worstDelta)
		})
	}
}

// TestCheckpointsCrossLoad: PyTorch's checkpoint after training loads in Go; the Go model's checkpoint loads in
// PyTorch (torch.load + resnet18().load_state_dict with a 2-class fc) and gives the logits Go computes.
func TestCheckpointsCrossLoad(t *testing.T) {
	m, err := models.FromCheckpoint(goBackend(t), fixture(t, "finetune_final.pth"))
	if err != nil {
		t.Fatal(err)
	}
	m.Classes = []string{"ants", "bees"}
	batches := npz(t, "batches.npz")
	dims := batches["images"].Shape().Dimensions
	first := tensors.MustCopyFlatData[float32](batches["images"])[:dims[1]*dims[2]*dims[3]*dims[4]]
	images := tensors.FromFlatDataAndDimensions(first, dims[1:]...)
	m.Eval()
	logits, err := m.Forward(images)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	checkpoint := filepath.Join(dir, "go.pth")
	if err := statedict.SavePTH(checkpoint, sd); err != nil {
		t.Fatal(err)
	}
	if err := torchref.Available(); err != nil {
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	imagesFile := filepath.Join(dir, "images.npz")
	if err := numpy.ToNpzFile(map[string]*tensors.Tensor{"images": images}, imagesFile); err != nil {
		t.Fatal(err)
	}
	script, err := torchref.ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(torchref.Python(), filepath.Join(script, "train_fixtures.py"), "logits", checkpoint, imagesFile).Output()
	if err != nil {
		t.Fatalf("PyTorch could not load the Go checkpoint: %v", err)
	}
	var torchLogits [][]float32
	if err := json.Unmarshal(out, &torchLogits); err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, row := range torchLogits {
		flat = append(flat, row...)
	}
	goLogits := tensors.MustCopyFlatData[float32](logits)
	if len(flat) != len(goLogits) {
		t.Fatalf("PyTorch gave %d logits, Go %d", len(flat), len(goLogits))
	}
	for i := range flat {
		if math.Abs(float64(flat[i]-goLogits[i])) > 1e-4 {
			t.Fatalf("logit %d: PyTorch %g, Go %g", i, flat[i], goLogits[i])
		}
	}
}

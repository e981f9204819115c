package train_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// syntheticBatches is a small fixed dataset: the same batches for the same (seed, epoch), like a seeded loader.
type syntheticBatches struct {
	seed          uint64
	batches, size int
}

func (s syntheticBatches) Len() int        { return s.batches }
func (s syntheticBatches) DatasetLen() int { return s.batches * 2 }
func (s syntheticBatches) Epoch(_ context.Context, epoch int) iter.Seq2[dataloader.Batch, error] {
	return func(yield func(dataloader.Batch, error) bool) {
		rng := rand.New(rand.NewPCG(s.seed, uint64(epoch)))
		for range s.batches {
			b := dataloader.Batch{N: 2, H: s.size, W: s.size, Labels: []int{0, 1}, Images: make([]float32, 2*s.size*s.size*3)}
			for i := range b.Images {
				b.Images[i] = float32(rng.NormFloat64())
			}
			// Class 1 images are brighter, so that accuracy can move.
			for i := len(b.Images) / 2; i < len(b.Images); i++ {
				b.Images[i] += 0.5
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

func tinyModel(t *testing.T) *models.ResNet {
	t.Helper()
	m, err := models.ResNet18(goBackend(t), models.Options{NumClasses: 2, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	m.Classes = []string{"ants", "bees"}
	return m
}

// tinyConfig's optimizer has no parameters: TrainModel gives it the scenario's.
func tinyConfig(dir string, epochs int) train.Config {
	optimizer := &train.SGD{LR: 0.01, Momentum: 0.9}
	return train.Config{
		Scenario:      train.FineTune,
		Epochs:        epochs,
		Optimizer:     optimizer,
		Scheduler:     &train.StepLR{Optimizer: optimizer, StepSize: 2, Gamma: 0.1},
		CheckpointDir: dir,
		Log:           &bytes.Buffer{},
		Progress:      train.Silent,
	}
}

// epochHook is a Progress that calls a function after every epoch.
type epochHook func(train.History)

func (epochHook) Batch(string, int, train.StepResult) {}
func (f epochHook) Epoch(h train.History)             { f(h) }
func (epochHook) Finish(train.History) error          { return nil }

var (
	tinyTrain = syntheticBatches{seed: 1, batches: 3, size: 32}
	tinyVal   = syntheticBatches{seed: 2, batches: 2, size: 32}
)

func stateOf(t *testing.T, m *models.ResNet) *statedict.StateDict {
	t.Helper()
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func sameState(t *testing.T, what string, a, b *statedict.StateDict) {
	t.Helper()
	for _, key := range a.Keys {
		if !slices.Equal(a.Tensors[key].Float32, b.Tensors[key].Float32) || !slices.Equal(a.Tensors[key].Int64, b.Tensors[key].Int64) {
			t.Fatalf("%s: %s differs", what, key)
		}
	}
}

// TestTrainModelLogAndBestRestore: the tutorial's log lines, a history per epoch, and at the end the model holds
// the weights of the epoch with the best validation accuracy, which are also in best.pth.
func TestTrainModelLogAndBestRestore(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t)
	cfg := tinyConfig(dir, 3)
	var snapshots []*statedict.StateDict
	cfg.Progress = epochHook(func(train.History) { snapshots = append(snapshots, stateOf(t, m)) })
	history, err := train.TrainModel(context.Background(), m, tinyTrain, tinyVal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := cfg.Log.(*bytes.Buffer).String()
	for _, want := range []string{"Epoch 0/2\n----------\ntrain Loss: ", "val Loss: ", "Epoch 2/2", "Training complete in 0m ", "Best val Acc: "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if len(history.Epochs) != 3 || history.Epochs[2].LearningRate != 0.001 || history.Epochs[1].LearningRate != 0.01 {
		t.Fatalf("history %+v", history.Epochs)
	}
	if saved, err := train.ReadHistory(dir); err != nil || !slices.Equal(saved.Epochs, history.Epochs) {
		t.Errorf("ReadHistory = %+v, %v; want the returned history", saved, err)
	}
	best, _ := history.Best()
	if best.Val.Accuracy <= 0 {
		t.Fatal("the synthetic data must let some epoch beat the starting weights for this test to mean anything")
	}
	sameState(t, "model after TrainModel vs the best epoch", stateOf(t, m), snapshots[best.Epoch])
	saved, err := statedict.Load(filepath.Join(dir, train.BestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "best.pth vs the best epoch", saved, snapshots[best.Epoch])
	if saved.Metadata[models.ClassesMetadataKey] != `["ants","bees"]` {
		t.Errorf("best.pth metadata %v lacks the class names", saved.Metadata)
	}
}

// TestResumeMatchesUninterruptedRun: a run interrupted after its first epoch and resumed ends with exactly the
// weights, momentum-driven updates included, of a run that was never interrupted.
func TestResumeMatchesUninterruptedRun(t *testing.T) {
	straight := tinyModel(t)
	straightHistory, err := train.TrainModel(context.Background(), straight, tinyTrain, tinyVal, tinyConfig(t.TempDir(), 3))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := tinyConfig(dir, 3)
	cfg.Progress = epochHook(func(train.History) { cancel() }) // the user interrupts during the second epoch
	if _, err := train.TrainModel(ctx, tinyModel(t), tinyTrain, tinyVal, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	if _, err := statedict.Load(filepath.Join(dir, train.BestCheckpoint)); err != nil {
		t.Fatalf("best checkpoint after the interruption: %v", err)
	}

	resumed := tinyModel(t)
	cfg = tinyConfig(dir, 3)
	cfg.Resume = true
	resumedHistory, err := train.TrainModel(context.Background(), resumed, tinyTrain, tinyVal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.Log.(*bytes.Buffer).String(), "Resuming from") {
		t.Error("the resumed run does not say it resumed")
	}
	if len(resumedHistory.Epochs) != 3 {
		t.Fatalf("resumed history has %d epochs", len(resumedHistory.Epochs))
	}
	for i := range 3 {
		a, b := straightHistory.Epochs[i], resumedHistory.Epochs[i]
		if a.Train.Loss != b.Train.Loss || a.Val.Accuracy != b.Val.Accuracy || a.LearningRate != b.LearningRate {
			t.Errorf("epoch %d: uninterrupted %+v, resumed %+v", i, a, b)
		}
	}
	sameState(t, "resumed vs uninterrupted", stateOf(t, resumed), stateOf(t, straight))
}

// TestCheckpointDirectoryErrors: an existing run without Resume, different settings, and damaged files each give
// a clear error.
func TestCheckpointDirectoryErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := train.TrainModel(context.Background(), tinyModel(t), tinyTrain, tinyVal, tinyConfig(dir, 1)); err != nil {
		t.Fatal(err)
	}
	expectError := func(name string, cfg train.Config, want ...string) {
		t.Helper()
		_, err := train.TrainModel(context.Background(), tinyModel(t), tinyTrain, tinyVal, cfg)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
	expectError("existing run", tinyConfig(dir, 2), dir, "Resume")

	cfg := tinyConfig(dir, 2)
	cfg.Resume = true
	cfg.Optimizer.LR = 0.5
	expectError("other settings", cfg, "other settings", "lr was 0.01, now 0.5")

	lasts, err := filepath.Glob(filepath.Join(dir, "last-*.pth"))
	if err != nil || len(lasts) != 1 {
		t.Fatalf("want one last-*.pth in %s, got %v (%v)", dir, lasts, err)
	}
	last := lasts[0]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(last, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = tinyConfig(dir, 2)
	cfg.Resume = true
	// The damage is named, and best.pth said to be intact, not to be deleted with the directory.
	expectError("damaged last.pth", cfg, "is damaged", last, "best.pth is intact")

	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectError("damaged state.json", cfg, "is damaged", "state.json")
}

// TestFrozenBatchNormKeepsBackbone: with the opt-in frozen BatchNorm, nothing of the backbone changes, running
// statistics included; with the tutorial's semantics the backbone's running statistics do change.
func TestFrozenBatchNormKeepsBackbone(t *testing.T) {
	for _, frozen := range []bool{true, false} {
		m := tinyModel(t)
		before := stateOf(t, m)
		cfg := tinyConfig(t.TempDir(), 1)
		cfg.Scenario = train.FixedFeatureExtractor
		cfg.FrozenBatchNorm = frozen
		if _, err := train.TrainModel(context.Background(), m, tinyTrain, tinyVal, cfg); err != nil {
			t.Fatal(err)
		}
		after := stateOf(t, m)
		statsChanged := !slices.Equal(before.Tensors["layer2.1.bn1.running_mean"].Float32, after.Tensors["layer2.1.bn1.running_mean"].Float32)
		if statsChanged != !frozen {
			t.Errorf("frozen BatchNorm %v: backbone running statistics changed: %v", frozen, statsChanged)
		}
		if !slices.Equal(before.Tensors["layer3.0.conv1.weight"].Float32, after.Tensors["layer3.0.conv1.weight"].Float32) {
			t.Errorf("frozen BatchNorm %v: a backbone weight changed", frozen)
		}
	}
}

package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// Scenario is one of the tutorial's two ways to reuse a pretrained network.
type Scenario string

const (
	// FineTune trains every parameter, starting from the pretrained weights.
	FineTune Scenario = "finetune"
	// FixedFeatureExtractor freezes the backbone and trains only the new head (fc).
	FixedFeatureExtractor Scenario = "fixed"
)

// ParseScenario accepts "finetune" or "fixed".
func ParseScenario(name string) (Scenario, error) {
	switch s := Scenario(name); s {
	case FineTune, FixedFeatureExtractor:
		return s, nil
	}
	return "", fmt.Errorf("train: unknown scenario %q (want %q or %q)", name, FineTune, FixedFeatureExtractor)
}

// trainable says which parameters the scenario trains.
func (s Scenario) trainable() func(key string) bool {
	if s == FixedFeatureExtractor {
		return models.IsHead
	}
	return nil
}

// Batches is what TrainModel reads every epoch; *dataloader.Loader is one.
type Batches interface {
	Epoch(ctx context.Context, epoch int) iter.Seq2[dataloader.Batch, error]
	Len() int
	DatasetLen() int
}

// Config configures TrainModel. Epochs, Optimizer and CheckpointDir are required.
type Config struct {
	Scenario  Scenario // default FineTune
	Epochs    int
	Optimizer SGD
	Scheduler StepLR
	// FrozenBatchNorm applies to FixedFeatureExtractor only. By default the tutorial's exact semantics hold: in
	// PyTorch, model.train() puts the frozen backbone's BatchNorm layers in training mode too, so they normalise
	// with batch statistics and their running statistics keep changing although no weight does. With
	// FrozenBatchNorm the backbone stays in evaluation mode: a truly fixed feature extractor, whose validation
	// features are computed once and reused every epoch (much faster), but whose numbers differ from the
	// tutorial's.
	FrozenBatchNorm bool
	// CheckpointDir receives best.pth (the best validation weights, written whenever they improve) and the
	// state a run resumes from (see checkpoint.go).
	CheckpointDir string
	// Resume continues the run saved in CheckpointDir, if any, with its epoch count, weights, momentum and
	// schedule; the settings must be the same. Without Resume an existing run there is an error.
	Resume bool
	// Log receives the tutorial's per-epoch lines (default os.Stdout); Progress the per-batch progress bar
	// (default os.Stderr; io.Discard silences it).
	Log, Progress io.Writer
	// OnEpoch, if set, is called with the history after every epoch (live plots use it).
	OnEpoch func(History)
	// Fingerprint describes what else a resumed run must share with the one it continues (the data, image
	// size, batch size, seed...): a resume names each difference.
	Fingerprint map[string]string
}

func (c *Config) settings() runSettings {
	return runSettings{Scenario: string(c.Scenario), FrozenBatchNorm: c.FrozenBatchNorm, LR: c.Optimizer.LR,
		Momentum: c.Optimizer.Momentum, WeightDecay: c.Optimizer.WeightDecay, Nesterov: c.Optimizer.Nesterov,
		StepSize: c.Scheduler.StepSize, Gamma: c.Scheduler.Gamma}
}

func (c *Config) validate() error {
	if c.Scenario == "" {
		c.Scenario = FineTune
	}
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		return err
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("train: Epochs must be positive, got %d", c.Epochs)
	case c.CheckpointDir == "":
		return errors.New("train: CheckpointDir is required (best.pth and the resume state go there)")
	case c.FrozenBatchNorm && c.Scenario != FixedFeatureExtractor:
		return errors.New("train: FrozenBatchNorm applies to the fixed-feature-extractor scenario only")
	}
	if c.Log == nil {
		c.Log = os.Stdout
	}
	if c.Progress == nil {
		c.Progress = os.Stderr
	}
	return nil
}

// TrainModel is the tutorial's train_model: for each epoch a training phase (training mode, SGD steps at the
// scheduled learning rate) and a validation phase (evaluation mode, no gradients), printing loss and accuracy
// per phase; the weights with the best validation accuracy are saved to CheckpointDir/best.pth as they appear
// and loaded back into m at the end. It returns the history of every epoch, resumed ones included.
//
// Cancelling ctx (Ctrl-C in the CLI, interrupting a notebook cell) stops after the current batch; whatever is in
// CheckpointDir stays consistent, and Resume continues from the last completed epoch.
func TrainModel(ctx context.Context, m *models.ResNet, trainData, valData Batches, cfg Config) (History, error) {
	if err := cfg.validate(); err != nil {
		return History{}, err
	}
	if err := os.MkdirAll(cfg.CheckpointDir, 0o755); err != nil {
		return History{}, fmt.Errorf("train: %w", err)
	}
	stepper, err := NewStepper(m, cfg.Optimizer, cfg.Scenario.trainable(), cfg.FrozenBatchNorm)
	if err != nil {
		return History{}, err
	}
	state, release, err := startRun(cfg, m, stepper)
	if err != nil {
		return History{}, err
	}
	defer release()

	run := &trainingRun{ctx: ctx, model: m, stepper: stepper, cfg: cfg, train: trainData, val: valData}
	start := time.Now()
	for epoch := state.CompletedEpochs; epoch < cfg.Epochs; epoch++ {
		fmt.Fprintf(cfg.Log, "Epoch %d/%d\n----------\n", epoch, cfg.Epochs-1)
		record, err := run.epoch(epoch)
		if err != nil {
			return state.History, err
		}
		state.History.Epochs = append(state.History.Epochs, record)
		state.CompletedEpochs = epoch + 1
		if record.Val.Accuracy > state.BestAccuracy {
			state.BestAccuracy, state.BestEpoch = record.Val.Accuracy, epoch
			if err := saveBest(cfg.CheckpointDir, m); err != nil {
				return state.History, err
			}
		}
		if err := saveEpoch(cfg.CheckpointDir, m, stepper, state); err != nil {
			return state.History, err
		}
		fmt.Fprintln(cfg.Log)
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(state.History)
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(cfg.Log, "Training complete in %.0fm %.0fs\n", elapsed.Truncate(time.Minute).Minutes(),
		(elapsed % time.Minute).Seconds())
	fmt.Fprintf(cfg.Log, "Best val Acc: %.6f\n", state.BestAccuracy)
	if err := restoreBest(cfg.CheckpointDir, m); err != nil {
		return state.History, err
	}
	return state.History, nil
}

// restoreBest loads best.pth back into the model, as the tutorial's final load_state_dict does.
func restoreBest(dir string, m *models.ResNet) error {
	path := filepath.Join(dir, BestCheckpoint)
	sd, err := statedict.Load(path)
	if err != nil {
		return err
	}
	return m.LoadStateDict(sd, path)
}

// trainingRun carries what the phases of every epoch share.
type trainingRun struct {
	ctx        context.Context
	model      *models.ResNet
	stepper    *Stepper
	cfg        Config
	train, val Batches
	// valFeatures caches the validation features when the backbone is frozen (they never change then).
	valFeatures []cachedBatch
}

type cachedBatch struct {
	features, labels *tensors.Tensor
}

func (r *trainingRun) epoch(epoch int) (EpochRecord, error) {
	record := EpochRecord{Epoch: epoch, LearningRate: r.cfg.Scheduler.LearningRate(r.cfg.Optimizer.LR, epoch)}
	var err error
	r.model.Train()
	if record.Train, err = r.phase(PhaseTrain, r.train, epoch, func(images, labels *tensors.Tensor) (StepResult, error) {
		return r.stepper.TrainStep(images, labels, record.LearningRate)
	}); err != nil {
		return record, err
	}
	r.model.Eval()
	if r.cfg.FrozenBatchNorm {
		record.Val, err = r.cachedValidation()
	} else {
		record.Val, err = r.phase(PhaseVal, r.val, epoch, r.stepper.EvalStep)
	}
	return record, err
}

// phase runs one pass over data with step, printing the progress bar and then the tutorial's line.
func (r *trainingRun) phase(name string, data Batches, epoch int,
	step func(images, labels *tensors.Tensor) (StepResult, error)) (PhaseStats, error) {
	start := time.Now()
	progress := newPhaseProgress(r.cfg.Progress, name, data.Len())
	var total StepResult
	var lossSum float64
	done := 0
	for batch, err := range data.Epoch(r.ctx, epoch) {
		if err != nil {
			return PhaseStats{}, fmt.Errorf("train: epoch %d, %s data: %w", epoch, name, err)
		}
		if err := r.ctx.Err(); err != nil {
			return PhaseStats{}, fmt.Errorf("train: interrupted in epoch %d: %w", epoch, err)
		}
		images, labels := batchTensors(batch)
		batch.Release() // the tensors hold copies
		result, err := step(images, labels)
		if err != nil {
			return PhaseStats{}, fmt.Errorf("train: epoch %d, %s batch %d: %w", epoch, name, done, err)
		}
		if err := checkLoss(result.Loss, epoch, name, done); err != nil {
			return PhaseStats{}, err
		}
		lossSum += result.Loss * float64(result.Count)
		total.Correct += result.Correct
		total.Count += result.Count
		done++
		progress.update(done, lossSum/float64(total.Count), float64(total.Correct)/float64(total.Count))
	}
	progress.finish()
	if err := r.ctx.Err(); err != nil {
		return PhaseStats{}, fmt.Errorf("train: interrupted in epoch %d: %w", epoch, err)
	}
	stats := finishPhase(total, lossSum, time.Since(start))
	fmt.Fprintf(r.cfg.Log, "%s Loss: %.4f Acc: %.4f\n", name, stats.Loss, stats.Accuracy)
	return stats, nil
}

func finishPhase(total StepResult, lossSum float64, elapsed time.Duration) PhaseStats {
	if total.Count == 0 {
		return PhaseStats{Seconds: elapsed.Seconds()}
	}
	return PhaseStats{Loss: lossSum / float64(total.Count), Accuracy: float64(total.Correct) / float64(total.Count),
		Samples: total.Count, Seconds: elapsed.Seconds()}
}

// cachedValidation evaluates the head on the validation features, computing them on the first call.
func (r *trainingRun) cachedValidation() (PhaseStats, error) {
	start := time.Now()
	if r.valFeatures == nil {
		for batch, err := range r.val.Epoch(r.ctx, 0) {
			if err != nil {
				return PhaseStats{}, fmt.Errorf("train: val data: %w", err)
			}
			images, labels := batchTensors(batch)
			batch.Release()
			features, err := r.stepper.Features(images)
			if err != nil {
				return PhaseStats{}, err
			}
			r.valFeatures = append(r.valFeatures, cachedBatch{features: features, labels: labels})
		}
	}
	var total StepResult
	var lossSum float64
	for _, b := range r.valFeatures {
		result, err := r.stepper.EvalHead(b.features, b.labels)
		if err != nil {
			return PhaseStats{}, err
		}
		lossSum += result.Loss * float64(result.Count)
		total.Correct += result.Correct
		total.Count += result.Count
	}
	stats := finishPhase(total, lossSum, time.Since(start))
	fmt.Fprintf(r.cfg.Log, "%s Loss: %.4f Acc: %.4f\n", PhaseVal, stats.Loss, stats.Accuracy)
	return stats, nil
}

// batchTensors wraps a loader batch as the model's inputs.
func batchTensors(b dataloader.Batch) (images, labels *tensors.Tensor) {
	ints := make([]int32, len(b.Labels))
	for i, l := range b.Labels {
		ints[i] = int32(l)
	}
	return tensors.FromFlatDataAndDimensions(b.Images, b.N, b.H, b.W, 3), tensors.FromFlatDataAndDimensions(ints, len(ints))
}

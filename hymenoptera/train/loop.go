package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
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

// Parameters freezes what the scenario does not train and returns what its optimizer updates: for FineTune every
// parameter; for FixedFeatureExtractor the backbone's parameters stop training (torch's requires_grad = False)
// and the optimizer gets fc's alone.
func (s Scenario) Parameters(m *models.ResNet) []models.Parameter {
	if s != FixedFeatureExtractor {
		return m.Parameters()
	}
	for _, p := range m.Parameters() {
		p.Variable.SetTrainable(models.IsHead(p.Key))
	}
	return m.FCParameters()
}

// Batches is what TrainModel reads every epoch; *dataloader.Loader is one.
type Batches interface {
	Epoch(ctx context.Context, epoch int) iter.Seq2[dataloader.Batch, error]
	Len() int
	DatasetLen() int
}

// Config configures TrainModel. Epochs, Optimizer, Scheduler and CheckpointDir are required.
type Config struct {
	Scenario  Scenario // default FineTune
	Epochs    int
	Criterion Criterion // default CrossEntropyLoss
	// Optimizer updates the parameters it holds, or, if it holds none, the scenario's (Scenario.Parameters);
	// Scheduler steps it once per epoch.
	Optimizer *SGD
	Scheduler *StepLR
	// FrozenBatchNorm applies to FixedFeatureExtractor only. By default the tutorial's exact semantics hold: in
	// PyTorch, model.train() puts the frozen backbone's BatchNorm layers in training mode too, so they normalise
	// with batch statistics and their running statistics keep changing although no weight does. With
	// FrozenBatchNorm the model stays in evaluation mode while the head trains: a truly fixed feature extractor,
	// whose validation features are computed once and reused every epoch (much faster), but whose numbers
	// differ from the tutorial's.
	FrozenBatchNorm bool
	// CheckpointDir receives best.pth (the best validation weights, written whenever they improve) and the
	// state a run resumes from (see Run).
	CheckpointDir string
	// Resume continues the run saved in CheckpointDir, if any, with its epoch count, weights, momentum and
	// schedule; the settings must be the same. Without Resume an existing run there is an error.
	Resume bool
	// Log receives the tutorial's per-epoch lines (default os.Stdout); Progress shows the run as it goes
	// (default NewTerminalProgress on os.Stderr).
	Log      io.Writer
	Progress Progress
	// Fingerprint describes what else a resumed run must share with the one it continues (the data, image
	// size, batch size, seed...): a resume names each difference.
	Fingerprint map[string]string
}

// settings are the hyperparameters a resumed run must share with the one it continues; the learning rate is
// the schedule's initial one.
func (c *Config) settings() runSettings {
	return runSettings{Scenario: string(c.Scenario), FrozenBatchNorm: c.FrozenBatchNorm, LR: c.Scheduler.InitialLR(),
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
	case c.Optimizer == nil || c.Scheduler == nil:
		return errors.New("train: an Optimizer and a Scheduler are required")
	case c.CheckpointDir == "":
		return errors.New("train: CheckpointDir is required (best.pth and the resume state go there)")
	case c.FrozenBatchNorm && c.Scenario != FixedFeatureExtractor:
		return errors.New("train: FrozenBatchNorm applies to the fixed-feature-extractor scenario only")
	}
	if c.Criterion == nil {
		c.Criterion = CrossEntropyLoss
	}
	if c.Log == nil {
		c.Log = os.Stdout
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
	if cfg.Optimizer.Params == nil {
		cfg.Optimizer.Params = cfg.Scenario.Parameters(m)
	}
	stepper, err := NewStepper(m, cfg.Criterion, cfg.Optimizer)
	if err != nil {
		return History{}, err
	}
	run, err := openRun(cfg, stepper)
	if err != nil {
		return History{}, err
	}
	defer run.Close()
	if cfg.Progress == nil {
		cfg.Progress = NewTerminalProgress(os.Stderr, trainData.Len(), valData.Len())
	}
	loop := &trainingRun{ctx: ctx, stepper: stepper, run: run, cfg: cfg,
		data: map[string]Batches{PhaseTrain: trainData, PhaseVal: valData}}
	start := time.Now()
	for epoch := run.NextEpoch(); epoch < cfg.Epochs; epoch++ {
		fmt.Fprintf(cfg.Log, "Epoch %d/%d\n----------\n", epoch, cfg.Epochs-1)
		if err := loop.epoch(epoch); err != nil {
			return run.History(), err
		}
		fmt.Fprintln(cfg.Log)
		cfg.Progress.Epoch(run.History())
	}
	elapsed := time.Since(start)
	fmt.Fprintf(cfg.Log, "Training complete in %.0fm %.0fs\n", elapsed.Truncate(time.Minute).Minutes(),
		(elapsed % time.Minute).Seconds())
	fmt.Fprintf(cfg.Log, "Best val Acc: %.6f\n", run.BestAccuracy())
	if err := cfg.Progress.Finish(run.History()); err != nil {
		return run.History(), err
	}
	if err := m.Load(run.BestPath()); err != nil { // as the tutorial's final load_state_dict
		return run.History(), err
	}
	return run.History(), nil
}

// trainingRun carries what the phases of every epoch share.
type trainingRun struct {
	ctx     context.Context
	stepper *Stepper
	run     *Run
	cfg     Config
	data    map[string]Batches
	// valFeatures caches the validation features when the backbone is frozen (they never change then).
	valFeatures []cachedBatch
}

type cachedBatch struct {
	features, labels *tensors.Tensor
}

// epoch runs an epoch's two phases, steps the schedule after training, and ends the epoch in the run (which
// saves it).
func (r *trainingRun) epoch(epoch int) error {
	m := r.stepper.Model()
	m.SetTraining(!r.cfg.FrozenBatchNorm)
	if err := r.phase(PhaseTrain, epoch, r.stepper.Train); err != nil {
		return err
	}
	r.cfg.Scheduler.Step()
	m.Eval()
	var err error
	if r.cfg.FrozenBatchNorm {
		err = r.cachedValidation()
	} else {
		err = r.phase(PhaseVal, epoch, r.stepper.Eval)
	}
	if err != nil {
		return err
	}
	if r.run.current.Val.Accuracy > r.run.BestAccuracy() {
		if err := r.run.SaveBest(); err != nil {
			return err
		}
	}
	return r.run.EndEpoch()
}

// phase runs one pass over a phase's data with step, showing progress, then prints and records the tutorial's
// line.
func (r *trainingRun) phase(name string, epoch int, step func(dataloader.Batch) (StepResult, error)) error {
	var total StepResult
	var lossSum float64
	done := 0
	for batch, err := range r.data[name].Epoch(r.ctx, epoch) {
		if err != nil {
			return fmt.Errorf("train: epoch %d, %s data: %w", epoch, name, err)
		}
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("train: interrupted in epoch %d: %w", epoch, err)
		}
		result, err := step(batch)
		batch.Release() // the step copied the batch into tensors
		if err != nil {
			return fmt.Errorf("train: epoch %d, %s batch %d: %w", epoch, name, done, err)
		}
		if err := checkLoss(result.Loss, epoch, name, done); err != nil {
			return err
		}
		lossSum += result.Loss * float64(result.Count)
		total.Correct += result.Correct
		total.Count += result.Count
		done++
		r.cfg.Progress.Batch(name, epoch, result)
	}
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("train: interrupted in epoch %d: %w", epoch, err)
	}
	return r.finishPhase(name, total, lossSum)
}

// finishPhase prints and records a phase's mean loss and accuracy.
func (r *trainingRun) finishPhase(name string, total StepResult, lossSum float64) error {
	var loss, accuracy float64
	if total.Count > 0 {
		loss, accuracy = lossSum/float64(total.Count), float64(total.Correct)/float64(total.Count)
	}
	fmt.Fprintf(r.cfg.Log, "%s Loss: %.4f Acc: %.4f\n", name, loss, accuracy)
	return r.run.Record(name, loss, accuracy, total.Count)
}

// cachedValidation evaluates the head on the validation features, computing them on the first call.
func (r *trainingRun) cachedValidation() error {
	if r.valFeatures == nil {
		for batch, err := range r.data[PhaseVal].Epoch(r.ctx, 0) {
			if err != nil {
				return fmt.Errorf("train: val data: %w", err)
			}
			features, err := r.stepper.Features(batch)
			_, labels := batch.Tensors()
			batch.Release()
			if err != nil {
				return err
			}
			r.valFeatures = append(r.valFeatures, cachedBatch{features: features, labels: labels})
		}
	}
	var total StepResult
	var lossSum float64
	for _, b := range r.valFeatures {
		result, err := r.stepper.EvalHead(b.features, b.labels)
		if err != nil {
			return err
		}
		lossSum += result.Loss * float64(result.Count)
		total.Correct += result.Correct
		total.Count += result.Count
	}
	return r.finishPhase(PhaseVal, total, lossSum)
}

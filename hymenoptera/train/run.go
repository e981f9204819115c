package train

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is a training run's checkpoint folder, as a training loop uses it: it resumes an interrupted run (the
// model's last weights, SGD's momentum, the schedule and the history), records each phase's loss and accuracy,
// and saves what a resumed run needs after every epoch (see checkpoint.go). best.pth, the tutorial's
// best_model_params_path, is the loop's to write (BestPath), as the tutorial's loop does.
type Run struct {
	dir       string
	stepper   *Stepper
	scheduler *StepLR
	state     runState
	current   EpochRecord // the epoch being recorded
	mark      time.Time   // when the current phase started
}

// OpenRun opens dir for a run of stepper's model and optimizer under scheduler. When dir holds an interrupted run
// with the same settings, it is resumed: the model, the momentum buffers and the schedule are put back as they
// were after its last completed epoch, and NextEpoch says where to continue. Otherwise the run starts at epoch 0.
func OpenRun(dir string, stepper *Stepper, scheduler *StepLR) (*Run, error) {
	return openRun(dir, stepper, scheduler, false)
}

func openRun(dir string, stepper *Stepper, scheduler *StepLR, frozenBatchNorm bool) (*Run, error) {
	if scheduler.Optimizer != stepper.optimizer {
		return nil, fmt.Errorf("train: the scheduler steps another optimizer than the stepper's")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	o := stepper.optimizer
	settings := runSettings{Scenario: filepath.Base(dir), FrozenBatchNorm: frozenBatchNorm, LR: scheduler.InitialLR(),
		Momentum: o.Momentum, WeightDecay: o.WeightDecay, Nesterov: o.Nesterov, StepSize: scheduler.StepSize,
		Gamma: scheduler.Gamma}
	r := &Run{dir: dir, stepper: stepper, scheduler: scheduler}
	state, err := loadState(dir, stepper.model, stepper, settings)
	switch {
	case err == nil:
		r.state = state
	case isNotExist(err):
		r.state = runState{Settings: settings, BestEpoch: -1}
	default:
		return nil, err
	}
	scheduler.setEpoch(r.state.CompletedEpochs)
	r.startEpoch()
	return r, nil
}

// Dir is the run's folder.
func (r *Run) Dir() string { return r.dir }

// BestPath is where the best weights go: dir/best.pth.
func (r *Run) BestPath() string { return filepath.Join(r.dir, BestCheckpoint) }

// NextEpoch is the first epoch still to run: 0, or the number of epochs a resumed run had completed.
func (r *Run) NextEpoch() int { return r.state.CompletedEpochs }

// BestAccuracy is the best validation accuracy of the completed epochs (0 before any).
func (r *Run) BestAccuracy() float64 { return r.state.BestAccuracy }

// History is every completed epoch's record.
func (r *Run) History() History { return r.state.History }

// Resumed reports whether the run continues an interrupted one.
func (r *Run) Resumed() bool { return r.state.CompletedEpochs > 0 }

func (r *Run) startEpoch() {
	r.current = EpochRecord{Epoch: r.state.CompletedEpochs, LearningRate: r.stepper.optimizer.LR}
	r.mark = time.Now()
}

// Record notes a phase's ("train" or "val") mean loss and accuracy over n samples, timed from the end of the
// previous phase.
func (r *Run) Record(phase string, loss, accuracy float64, n int) error {
	stats := PhaseStats{Loss: loss, Accuracy: accuracy, Samples: n, Seconds: time.Since(r.mark).Seconds()}
	r.mark = time.Now()
	switch phase {
	case PhaseTrain:
		r.current.Train = stats
	case PhaseVal:
		r.current.Val = stats
	default:
		return fmt.Errorf("train: unknown phase %q (want %q or %q)", phase, PhaseTrain, PhaseVal)
	}
	return nil
}

// EndEpoch closes the current epoch: its record joins the history, and the model's weights, the momentum buffers
// and the state are saved so that an interruption from now on resumes after this epoch.
func (r *Run) EndEpoch() error {
	record := r.current
	r.state.History.Epochs = append(r.state.History.Epochs, record)
	r.state.CompletedEpochs = record.Epoch + 1
	if record.Val.Accuracy > r.state.BestAccuracy {
		r.state.BestAccuracy, r.state.BestEpoch = record.Val.Accuracy, record.Epoch
	}
	if err := saveEpoch(r.dir, r.stepper.model, r.stepper, r.state); err != nil {
		return err
	}
	r.startEpoch()
	return nil
}

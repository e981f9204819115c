package train

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is a training run's checkpoint folder, as a training loop uses it: it holds the folder's lock, resumes an
// interrupted run (the model's last weights, SGD's momentum, the schedule and the history), records each phase's
// loss and accuracy, and saves what a resumed run needs after every epoch, crash-safely (see checkpoint.go).
// best.pth, the tutorial's best_model_params_path, gets the starting weights on a new run, and the loop saves the
// weights of a better epoch with SaveBest, as the tutorial's loop does.
type Run struct {
	dir     string
	stepper *Stepper
	state   runState
	release func()      // the folder's lock
	current EpochRecord // the epoch being recorded
	mark    time.Time   // when the current phase started
}

// OpenRun opens dir for a run of stepper's model and optimizer under scheduler, locking it against other runs
// until Close (or the process's end). With resume, an interrupted run saved there with the same settings is
// resumed: the model, the momentum buffers and the schedule are put back as they were after its last completed
// epoch, and NextEpoch says where to continue. Without it, a run already saved there is an error. A new run
// starts at epoch 0, its starting weights saved as best.pth.
func OpenRun(dir string, resume bool, stepper *Stepper, scheduler *StepLR) (*Run, error) {
	return openRun(Config{Scenario: Scenario(filepath.Base(dir)), CheckpointDir: dir, Resume: resume,
		Optimizer: stepper.optimizer, Scheduler: scheduler, Log: os.Stdout}, stepper)
}

// openRun opens cfg.CheckpointDir for a run of stepper with cfg's settings.
func openRun(cfg Config, stepper *Stepper) (*Run, error) {
	if cfg.Scheduler.Optimizer != stepper.optimizer {
		return nil, fmt.Errorf("train: the scheduler steps another optimizer than the stepper's")
	}
	state, release, err := startRun(cfg, stepper.model, stepper)
	if err != nil {
		return nil, err
	}
	r := &Run{dir: cfg.CheckpointDir, stepper: stepper, state: state, release: release}
	cfg.Scheduler.setEpoch(state.CompletedEpochs)
	r.startEpoch()
	return r, nil
}

// Close gives the folder's lock back. The run must not be used after it.
func (r *Run) Close() { r.release() }

// BestPath is where the best weights go: dir/best.pth.
func (r *Run) BestPath() string { return filepath.Join(r.dir, BestCheckpoint) }

// NextEpoch is the first epoch still to run: 0, or the number of epochs a resumed run had completed.
func (r *Run) NextEpoch() int { return r.state.CompletedEpochs }

// BestAccuracy is the best validation accuracy of the completed epochs (0 before any).
func (r *Run) BestAccuracy() float64 { return r.state.BestAccuracy }

// History is every completed epoch's record.
func (r *Run) History() History { return r.state.History }

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

// SaveBest saves the model's current weights as the run's best (the tutorial's torch.save(model.state_dict(),
// best_model_params_path)). They replace best.pth when EndEpoch commits the epoch, so that an interruption never
// leaves best.pth from a later epoch than the run resumes from.
func (r *Run) SaveBest() error { return saveBest(r.dir, r.stepper.model) }

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

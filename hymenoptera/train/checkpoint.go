package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hymenoptera-go/tutorial/hymenoptera/hub"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// A checkpoint directory holds everything a run needs to survive an interruption:
//
//	best.pth               the weights with the best validation accuracy so far (torchvision-compatible)
//	last.pth               the weights after the last completed epoch
//	optimizer.safetensors  SGD's momentum buffers after that epoch, keyed by parameter
//	state.json             epochs done, best accuracy, history, settings, and the SHA-256 of the two files above
//
// Every file is written to a temporary file and renamed, and state.json last: an interruption at any point
// leaves either the previous epoch's consistent set or the new one, and a mismatch between state.json and the
// files it names is reported, never silently resumed from.
const (
	BestCheckpoint      = "best.pth"
	lastCheckpoint      = "last.pth"
	optimizerCheckpoint = "optimizer.safetensors"
	stateFile           = "state.json"
	stateVersion        = 1
)

// runSettings are the settings a resumed run must share with the run it continues.
type runSettings struct {
	Scenario        string  `json:"scenario"`
	FrozenBatchNorm bool    `json:"frozen_batchnorm"`
	LR              float64 `json:"lr"`
	Momentum        float64 `json:"momentum"`
	WeightDecay     float64 `json:"weight_decay"`
	Nesterov        bool    `json:"nesterov"`
	StepSize        int     `json:"step_size"`
	Gamma           float64 `json:"gamma"`
}

// runState is state.json.
type runState struct {
	Version         int         `json:"version"`
	CompletedEpochs int         `json:"completed_epochs"`
	BestAccuracy    float64     `json:"best_accuracy"`
	BestEpoch       int         `json:"best_epoch"`
	History         History     `json:"history"`
	Settings        runSettings `json:"settings"`
	LastSHA256      string      `json:"last_sha256"`
	OptimizerSHA256 string      `json:"optimizer_sha256"`
}

// saveBest writes the model's current weights as dir/best.pth.
func saveBest(dir string, m *models.ResNet) error {
	sd, err := m.StateDict()
	if err != nil {
		return err
	}
	return statedict.SavePTH(filepath.Join(dir, BestCheckpoint), sd)
}

// saveEpoch writes the resume set after a completed epoch.
func saveEpoch(dir string, m *models.ResNet, s *Stepper, state runState) error {
	sd, err := m.StateDict()
	if err != nil {
		return err
	}
	lastPath := filepath.Join(dir, lastCheckpoint)
	if err := statedict.SavePTH(lastPath, sd); err != nil {
		return err
	}
	momentum, err := s.momentumState()
	if err != nil {
		return err
	}
	optimizerPath := filepath.Join(dir, optimizerCheckpoint)
	if err := statedict.SaveSafetensors(optimizerPath, momentum); err != nil {
		return err
	}
	if state.LastSHA256, err = hub.FileSHA256(lastPath); err != nil {
		return err
	}
	if state.OptimizerSHA256, err = hub.FileSHA256(optimizerPath); err != nil {
		return err
	}
	state.Version = stateVersion
	return atomicfile.Write(filepath.Join(dir, stateFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(state)
	})
}

// loadState reads dir's resume set into m and s and returns the state; os.ErrNotExist (wrapped) when dir holds no
// run to resume.
func loadState(dir string, m *models.ResNet, s *Stepper, settings runSettings) (runState, error) {
	var state runState
	statePath := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(statePath)
	if err != nil {
		return state, err
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("train: corrupt checkpoint directory %s: %s (delete the directory to start over)", dir,
			fmt.Sprintf(format, args...))
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return state, corrupt("%s: %v", stateFile, err)
	}
	if state.Version != stateVersion {
		return state, corrupt("%s has version %d, this program writes %d", stateFile, state.Version, stateVersion)
	}
	if state.Settings != settings {
		return state, fmt.Errorf("train: %s was written by a run with settings %+v, this run has %+v: use another "+
			"checkpoint directory, or the same settings to resume", statePath, state.Settings, settings)
	}
	for _, f := range []struct{ name, digest string }{
		{lastCheckpoint, state.LastSHA256}, {optimizerCheckpoint, state.OptimizerSHA256},
	} {
		got, err := hub.FileSHA256(filepath.Join(dir, f.name))
		if err != nil {
			return state, corrupt("%v", err)
		}
		if got != f.digest {
			return state, corrupt("%s does not match the checksum in %s", f.name, stateFile)
		}
	}
	lastPath := filepath.Join(dir, lastCheckpoint)
	sd, err := statedict.Load(lastPath)
	if err != nil {
		return state, corrupt("%v", err)
	}
	if err := m.LoadStateDict(sd, lastPath); err != nil {
		return state, corrupt("%v", err)
	}
	momentum, err := statedict.Load(filepath.Join(dir, optimizerCheckpoint))
	if err != nil {
		return state, corrupt("%v", err)
	}
	if err := s.loadMomentumState(momentum); err != nil {
		return state, corrupt("%s: %v", optimizerCheckpoint, err)
	}
	return state, nil
}

// isNotExist reports whether err says there is nothing to resume.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// ReadHistory returns the history saved in a checkpoint directory (after every completed epoch), so that a later
// program — the next notebook cell — can plot or compare a run.
func ReadHistory(dir string) (History, error) {
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return History{}, fmt.Errorf("train: no saved run in %s: %w", dir, err)
	}
	var state runState
	if err := json.Unmarshal(data, &state); err != nil {
		return History{}, fmt.Errorf("train: %s: %w", path, err)
	}
	return state.History, nil
}

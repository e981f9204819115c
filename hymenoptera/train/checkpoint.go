package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/sha"
	"github.com/hymenoptera-go/tutorial/hymenoptera/models"
	"github.com/hymenoptera-go/tutorial/hymenoptera/statedict"
)

// A checkpoint directory holds everything a run needs to survive an interruption:
//
//	best.pth                    the weights with the best validation accuracy so far (torchvision-compatible)
//	last-NNNN.pth               the weights after the last completed epoch, NNNN
//	optimizer-NNNN.safetensors  SGD's momentum buffers after that epoch, keyed by parameter
//	state.json                  the manifest: epochs done, best accuracy, history, settings, the names of the
//	                            two files above and the SHA-256 of those and of best.pth
//	.lock                       the lock of the run that uses the directory (see lockDir)
//
// A save has one commit point, the atomic rename of the new state.json. Before it, the epoch's files are written
// under names no manifest uses yet (last-NNNN.pth, optimizer-NNNN.safetensors, and best.pth's replacement as
// best-next.pth), each through a synced temporary file, and the directory is synced; after it, best-next.pth is
// renamed to best.pth and the previous epoch's files are removed. A process killed at any instant therefore
// leaves the previous manifest with all its files, or the new one with all of its (best.pth possibly still
// waiting as best-next.pth); the next start finishes or discards the interrupted save (recoverDir) and resumes
// from the last committed epoch. Only damage from outside (bit rot, edits) makes a manifest and its files
// disagree, and that is reported naming the file and saying whether best.pth is still good.
const (
	BestCheckpoint = "best.pth"
	stagedBest     = "best-next.pth"
	stateFile      = "state.json"
	stateVersion   = 2
)

// checkpointElements bounds what loading a resume set may allocate: a few times a ResNet-18 (11.7 million
// values), whose files are the only ones a checkpoint directory should hold.
const checkpointElements = 64 << 20

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
	Version         int               `json:"version"`
	CompletedEpochs int               `json:"completed_epochs"`
	BestAccuracy    float64           `json:"best_accuracy"`
	BestEpoch       int               `json:"best_epoch"`
	History         History           `json:"history"`
	Settings        runSettings       `json:"settings"`
	Fingerprint     map[string]string `json:"fingerprint,omitempty"`
	Last            string            `json:"last"`
	LastSHA256      string            `json:"last_sha256"`
	Optimizer       string            `json:"optimizer"`
	OptimizerSHA256 string            `json:"optimizer_sha256"`
	BestSHA256      string            `json:"best_sha256"`
	// PendingBest is stagedBest when this save replaced best.pth: the rename may not have happened yet.
	PendingBest string `json:"pending_best,omitempty"`
}

// startRun takes the checkpoint directory for this run: it locks it (release unlocks it), finishes or discards
// a save that a crash interrupted, and then resumes the run saved there into m and s (with cfg.Resume) or starts
// a new one, saving the starting weights as best.pth as the tutorial does.
func startRun(cfg Config, m *models.ResNet, s *Stepper) (state runState, release func(), err error) {
	if err := checkHyperparameters(cfg); err != nil {
		return state, nil, err
	}
	dir := cfg.CheckpointDir
	if release, err = lockDir(dir); err != nil {
		return state, nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	state, err = recoverDir(dir)
	switch {
	case isNotExist(err) && cfg.Resume:
		fmt.Fprintf(cfg.Log, "Nothing to resume in %s: starting a new run\n", dir)
		fallthrough
	case isNotExist(err):
		state = runState{Settings: cfg.settings(), Fingerprint: cfg.Fingerprint, BestEpoch: -1}
		// As the tutorial does, the starting weights are the best until an epoch beats them.
		state.BestSHA256, err = writeFile(filepath.Join(dir, BestCheckpoint), weightsWriter(m))
		return state, release, err
	case err != nil:
		return state, release, err
	case !cfg.Resume:
		return state, release, fmt.Errorf("train: %s already holds a run (%d epochs done): resume it (hymenoptera "+
			"train --resume, HYMENOPTERA_RESUME=1 in the notebooks, Config.Resume in Go), or use another directory",
			dir, state.CompletedEpochs)
	}
	if diffs := differences(state, cfg); len(diffs) > 0 {
		return state, release, fmt.Errorf("train: cannot resume the run in %s with other settings: %s. Resume "+
			"with the saved settings, or use another directory", dir, strings.Join(diffs, "; "))
	}
	if err := loadResumeSet(dir, state, m, s); err != nil {
		return state, release, err
	}
	fmt.Fprintf(cfg.Log, "Resuming from %s after epoch %d/%d\n", dir, state.CompletedEpochs-1, cfg.Epochs-1)
	return state, release, nil
}

// differences names each setting of cfg that differs from the saved run's, as "name: saved → now".
func differences(saved runState, cfg Config) []string {
	savedSettings, current := map[string]any{}, map[string]any{}
	for _, pair := range []struct {
		from runSettings
		to   map[string]any
	}{{saved.Settings, savedSettings}, {cfg.settings(), current}} {
		data, _ := json.Marshal(pair.from) // finite numbers: checkHyperparameters and the saved JSON ensure it
		json.Unmarshal(data, &pair.to)
	}
	for k, v := range saved.Fingerprint {
		savedSettings[k] = v
	}
	for k, v := range cfg.Fingerprint {
		current[k] = v
	}
	var diffs []string
	for k, v := range savedSettings {
		if now, ok := current[k]; !ok || fmt.Sprint(now) != fmt.Sprint(v) {
			diffs = append(diffs, fmt.Sprintf("%s was %v, now %v", k, v, describeSetting(now, ok)))
		}
	}
	for k, v := range current {
		if _, ok := savedSettings[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s was not recorded, now %v", k, v))
		}
	}
	slices.Sort(diffs)
	return diffs
}

func describeSetting(v any, ok bool) string {
	if !ok {
		return "not given"
	}
	return fmt.Sprint(v)
}

// fileWriter writes one file of a checkpoint at path (through a synced temporary file and a rename).
type fileWriter func(path string) error

// weightsWriter writes the model's weights as a torchvision state dict.
func weightsWriter(m *models.ResNet) fileWriter {
	return func(path string) error {
		sd, err := m.StateDict()
		if err != nil {
			return err
		}
		return statedict.SavePTH(path, sd)
	}
}

// momentumWriter writes SGD's momentum buffers.
func momentumWriter(s *Stepper) fileWriter {
	return func(path string) error {
		momentum, err := s.momentumState()
		if err != nil {
			return err
		}
		return statedict.SaveSafetensors(path, momentum)
	}
}

// writeFile writes path with write and returns the file's SHA-256.
func writeFile(path string, write fileWriter) (string, error) {
	if err := write(path); err != nil {
		return "", err
	}
	fileOp("wrote " + filepath.Base(path))
	return sha.File256(path)
}

// saveBest stages the model's current weights as best.pth's replacement; saveEpoch commits it.
func saveBest(dir string, m *models.ResNet) error {
	_, err := writeFile(filepath.Join(dir, stagedBest), weightsWriter(m))
	return err
}

// saveEpoch writes the resume set after a completed epoch and commits it (see the layout above).
func saveEpoch(dir string, m *models.ResNet, s *Stepper, state runState) error {
	return saveResumeSet(dir, state, weightsWriter(m), momentumWriter(s))
}

// saveResumeSet writes the epoch's files under new names and commits state, which describes them.
func saveResumeSet(dir string, state runState, last, optimizer fileWriter) error {
	epoch := state.CompletedEpochs - 1
	state.Last = fmt.Sprintf("last-%04d.pth", epoch)
	state.Optimizer = fmt.Sprintf("optimizer-%04d.safetensors", epoch)
	var err error
	if state.LastSHA256, err = writeFile(filepath.Join(dir, state.Last), last); err != nil {
		return err
	}
	if state.OptimizerSHA256, err = writeFile(filepath.Join(dir, state.Optimizer), optimizer); err != nil {
		return err
	}
	// best.pth is replaced when saveBest staged a copy this epoch; either way the manifest records its checksum.
	state.PendingBest = ""
	best := filepath.Join(dir, BestCheckpoint)
	if _, err := os.Stat(filepath.Join(dir, stagedBest)); err == nil {
		state.PendingBest, best = stagedBest, filepath.Join(dir, stagedBest)
	}
	if state.BestSHA256, err = sha.File256(best); err != nil {
		return err
	}
	return commit(dir, state)
}

// commit makes state the directory's manifest (the commit point), then completes the save.
func commit(dir string, state runState) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	state.Version = stateVersion
	err := atomicfile.Write(filepath.Join(dir, stateFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(state)
	})
	if err != nil {
		return fmt.Errorf("train: saving %s: %w", filepath.Join(dir, stateFile), err)
	}
	fileOp("wrote " + stateFile)
	if err := syncDir(dir); err != nil {
		return err
	}
	return finishSave(dir, state)
}

// finishSave does what follows a commit: best.pth replaced by its staged copy, files of no manifest removed.
func finishSave(dir string, state runState) error {
	if state.PendingBest != "" {
		err := os.Rename(filepath.Join(dir, state.PendingBest), filepath.Join(dir, BestCheckpoint))
		if err != nil && !isNotExist(err) { // not there: renamed before a crash
			return fmt.Errorf("train: %w", err)
		}
		fileOp("renamed " + state.PendingBest)
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, e := range entries {
		if name := e.Name(); isLeftover(name, state) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !isNotExist(err) {
				return fmt.Errorf("train: removing %s, left by an earlier save: %w", name, err)
			}
			fileOp("removed " + name)
		}
	}
	return nil
}

// saveFiles matches the names of the files a save writes, and of their temporary files (atomicfile's
// ".NAME.RANDOM.tmp"): only those are ever removed, so that a directory given by mistake (--out .) loses nothing.
var saveFiles = regexp.MustCompile(`^(\.)?(last-\d{4,}\.pth|optimizer-\d{4,}\.safetensors|best-next\.pth|best\.pth|state\.json)(\.\d+\.tmp)?$`)

// isLeftover reports whether a file of the directory belongs to no committed state: an earlier epoch's resume
// set, a staged best.pth that no manifest committed (finishSave renamed a committed one before looking), the
// temporary file of an interrupted write.
func isLeftover(name string, state runState) bool {
	m := saveFiles.FindStringSubmatch(name)
	switch {
	case m == nil || name == state.Last || name == state.Optimizer:
		return false
	case m[1] != "" || m[3] != "": // a temporary file
		return m[1] != "" && m[3] != ""
	}
	return m[2] != BestCheckpoint && m[2] != stateFile
}

// recoverDir finishes or discards a save that a crash interrupted and returns the directory's committed state;
// an error wrapping fs.ErrNotExist when it holds none. The caller holds the directory's lock.
func recoverDir(dir string) (runState, error) {
	state, err := readState(dir)
	if isNotExist(err) {
		state = runState{} // no run: everything a save left is a leftover
	} else if err != nil {
		return state, err
	}
	if err := finishSave(dir, state); err != nil {
		return state, err
	}
	if state.Version == 0 {
		return state, fmt.Errorf("train: no run in %s: %w", dir, fs.ErrNotExist)
	}
	return state, nil
}

// readState reads and checks the manifest.
func readState(dir string) (runState, error) {
	var state runState
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return state, err
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return state, damaged(dir, state, "%s: %v", path, err)
	}
	switch {
	case state.Version != stateVersion:
		return state, damaged(dir, state, "%s has version %d, this program reads %d", path, state.Version, stateVersion)
	case state.Last == "" || state.Optimizer == "" || state.CompletedEpochs < 1:
		return state, damaged(dir, state, "%s names no completed epoch's files", path)
	}
	return state, nil
}

// checkResumeSet checks the files that state names, and best.pth, against their SHA-256.
func checkResumeSet(dir string, state runState) error {
	for _, f := range []struct{ name, digest string }{
		{state.Last, state.LastSHA256}, {state.Optimizer, state.OptimizerSHA256}, {BestCheckpoint, state.BestSHA256},
	} {
		path := filepath.Join(dir, f.name)
		got, err := sha.File256(path)
		if err != nil {
			return damaged(dir, state, "%v", err)
		}
		if got != f.digest {
			return damaged(dir, state, "%s does not match its SHA-256 in %s (changed on disk since it was written)",
				path, stateFile)
		}
	}
	return nil
}

// loadResumeSet checks the files that state names and loads them into m and s.
func loadResumeSet(dir string, state runState, m *models.ResNet, s *Stepper) error {
	if err := checkResumeSet(dir, state); err != nil {
		return err
	}
	lastPath := filepath.Join(dir, state.Last)
	sd, err := statedict.LoadBounded(lastPath, checkpointElements)
	if err != nil {
		return damaged(dir, state, "%v", err)
	}
	if err := m.LoadStateDict(sd, lastPath); err != nil {
		return damaged(dir, state, "%v", err)
	}
	optimizerPath := filepath.Join(dir, state.Optimizer)
	momentum, err := statedict.LoadBounded(optimizerPath, checkpointElements)
	if err != nil {
		return damaged(dir, state, "%v", err)
	}
	if err := s.loadMomentumState(momentum); err != nil {
		return damaged(dir, state, "%s: %v", optimizerPath, err)
	}
	return nil
}

// damaged is the error of a checkpoint directory whose files disagree with each other, which no crash of this
// program causes: it names the damage and says whether best.pth is still good, so that nobody deletes good
// weights to get rid of the error.
func damaged(dir string, state runState, format string, args ...any) error {
	best := filepath.Join(dir, BestCheckpoint)
	var verdict string
	switch digest, err := sha.File256(best); {
	case err != nil:
		verdict = fmt.Sprintf("%s cannot be read either (%v)", best, err)
	case state.BestSHA256 == "":
		verdict = fmt.Sprintf("%s was not checked (no intact %s records its checksum); it may still load", best, stateFile)
	case digest == state.BestSHA256:
		verdict = fmt.Sprintf("%s is intact (epoch %d, val accuracy %.4f) and loads as it is", best, state.BestEpoch,
			state.BestAccuracy)
	default:
		verdict = fmt.Sprintf("%s does not match its checksum either", best)
	}
	return fmt.Errorf("train: checkpoint directory %s is damaged, the run cannot be resumed: %s. %s. To train "+
		"again, use another directory (keep this one for its best.pth)", dir, fmt.Sprintf(format, args...), verdict)
}

// syncDir makes the directory's renames durable (a power loss cannot reorder them before the sync).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("train: syncing %s: %w", dir, err)
	}
	fileOp("synced " + filepath.Base(dir))
	return nil
}

// fileOpHook, when a test sets it, is called after every file operation of a save with the operation's name, so
// that the test can kill the process at each instant in turn.
var fileOpHook func(op string)

func fileOp(op string) {
	if fileOpHook != nil {
		fileOpHook(op)
	}
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

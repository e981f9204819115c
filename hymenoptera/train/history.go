package train

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
)

// Phase names, as the tutorial prints them.
const (
	PhaseTrain = "train"
	PhaseVal   = "val"
)

// PhaseStats are the figures of one phase of one epoch.
type PhaseStats struct {
	Loss     float64 `json:"loss"`     // mean loss per sample
	Accuracy float64 `json:"accuracy"` // fraction of samples predicted right
	Samples  int     `json:"samples"`
	Seconds  float64 `json:"seconds"`
}

// EpochRecord is one epoch: its training phase, its validation phase and the learning rate it trained with.
type EpochRecord struct {
	Epoch        int        `json:"epoch"`
	LearningRate float64    `json:"learning_rate"`
	Train        PhaseStats `json:"train"`
	Val          PhaseStats `json:"val"`
}

// History is what TrainModel returns (and what live plots read): one record per completed epoch.
type History struct {
	Epochs []EpochRecord `json:"epochs"`
}

// Best returns the epoch with the best validation accuracy (the first one on ties, as the tutorial's strict ">"
// keeps it), and false when there is none.
func (h History) Best() (EpochRecord, bool) {
	var best EpochRecord
	found := false
	for _, e := range h.Epochs {
		if !found || e.Val.Accuracy > best.Val.Accuracy {
			best, found = e, true
		}
	}
	return best, found
}

// WriteJSON writes the history as indented JSON.
func (h History) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

// csvHeader are the columns of WriteCSV.
var csvHeader = []string{"epoch", "learning_rate", "train_loss", "train_accuracy", "train_seconds", "val_loss",
	"val_accuracy", "val_seconds"}

// WriteCSV writes one row per epoch, with a header row.
func (h History) WriteCSV(w io.Writer) error {
	out := csv.NewWriter(w)
	if err := out.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, e := range h.Epochs {
		row := []string{strconv.Itoa(e.Epoch), f(e.LearningRate), f(e.Train.Loss), f(e.Train.Accuracy),
			f(e.Train.Seconds), f(e.Val.Loss), f(e.Val.Accuracy), f(e.Val.Seconds)}
		if err := out.Write(row); err != nil {
			return err
		}
	}
	out.Flush()
	return out.Error()
}

// Save writes the history to path as JSON, or as CSV when path ends in ".csv", atomically.
func (h History) Save(path string) error {
	write := h.WriteJSON
	if len(path) > 4 && path[len(path)-4:] == ".csv" {
		write = h.WriteCSV
	}
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("train: saving the history to %s: %w", path, err)
	}
	return nil
}

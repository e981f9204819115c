package nbcheck

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// MaxNotebookBytes bounds a notebook file, committed or executed: a reader downloads it, and git keeps every
// version. (1 MB, counted in decimal so that it holds whichever way "MB" is read.)
const MaxNotebookBytes = 1_000_000

// MaxOutputsPerCell bounds a code cell's outputs: a training cell shows one progress display, its log and its
// figures; more means something printed in a loop or displayed anew instead of updating.
const MaxOutputsPerCell = 8

// progressClass matches the element that marks a training-progress display (the lead's display protocol: one per
// training cell, updated in place).
var progressClass = regexp.MustCompile(`class\s*=\s*["'][^"']*\bhymenoptera-progress\b`)

// CheckSize fails when the notebook file at path is larger than MaxNotebookBytes.
func CheckSize(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Size() > MaxNotebookBytes {
		return fmt.Errorf("the file has %d bytes, more than the %d a notebook may have", info.Size(), MaxNotebookBytes)
	}
	return nil
}

// CheckCellOutputs fails when a code cell has more than one training-progress display (a display re-created
// instead of updated in place), a stream output that redraws a line with a bare carriage return (a terminal
// progress bar, unreadable once saved), or more than MaxOutputsPerCell outputs. It reports every such cell.
func (nb *Notebook) CheckCellOutputs() error {
	var problems []error
	for i, cell := range nb.Cells {
		if cell.Type != "code" {
			continue
		}
		progress, carriageReturns := 0, 0
		for _, out := range cell.Outputs {
			switch out.Type {
			case "display_data", "execute_result", "update_display_data":
				if progressClass.MatchString(out.Payload("text/html")) {
					progress++
				}
			case "stream":
				carriageReturns += strings.Count(strings.ReplaceAll(out.Text.String(), "\r\n", "\n"), "\r")
			}
		}
		if progress > 1 {
			problems = append(problems, fmt.Errorf("cell %d shows %d progress displays, want at most one updated "+
				"in place", i, progress))
		}
		if carriageReturns > 0 {
			problems = append(problems, fmt.Errorf("cell %d prints %d carriage return(s): a terminal progress bar "+
				"instead of the progress display", i, carriageReturns))
		}
		if len(cell.Outputs) > MaxOutputsPerCell {
			problems = append(problems, fmt.Errorf("cell %d has %d outputs, want at most %d", i, len(cell.Outputs),
				MaxOutputsPerCell))
		}
	}
	return errors.Join(problems...)
}

package nbcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// progressOutput is a display of the training-progress protocol.
const progressOutput = `{"output_type": "display_data", "metadata": {}, "transient": {"display_id": "p1"},
	"data": {"text/html": "<div class=\"hymenoptera-progress\" data-progress=\"{}\">epoch 1/2</div>",
	"text/plain": "epoch 1/2"}}`

func cellWithOutputs(outputs ...string) string {
	return `{"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["training"]}, "source": "%%\ntrain()",
		"outputs": [` + strings.Join(outputs, ",") + `]}`
}

func stream(text string) string {
	return `{"output_type": "stream", "name": "stdout", "text": ` + `"` + text + `"}`
}

func TestCheckCellOutputs(t *testing.T) {
	good := mustParse(t, notebookJSON(markdownCell, cellWithOutputs(progressOutput, stream(`epoch 0 done\r\n`)),
		cellWithOutputs(progressOutput)))
	if err := good.CheckCellOutputs(); err != nil {
		t.Errorf("one progress display per cell: %v", err)
	}
	for name, tc := range map[string]struct {
		cell string
		want string
	}{
		"two progress displays": {cellWithOutputs(progressOutput, stream(`log\n`), progressOutput), "2 progress displays"},
		"terminal progress bar": {cellWithOutputs(stream(`50%\r60%\r`)), "2 carriage return(s)"},
		"too many outputs": {cellWithOutputs(stream(`1`), stream(`2`), stream(`3`), stream(`4`), stream(`5`),
			stream(`6`), stream(`7`), stream(`8`), stream(`9`)), "9 outputs"},
	} {
		t.Run(name, func(t *testing.T) {
			err := mustParse(t, notebookJSON(markdownCell, tc.cell)).CheckCellOutputs()
			if err == nil || !strings.Contains(err.Error(), "cell 1 ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckCellOutputs = %v, want cell 1 and %q", err, tc.want)
			}
		})
	}
}

func TestCheckSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nb.ipynb")
	if err := os.WriteFile(path, make([]byte, MaxNotebookBytes), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckSize(path); err != nil {
		t.Errorf("a notebook of exactly the limit: %v", err)
	}
	if err := os.WriteFile(path, make([]byte, MaxNotebookBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckSize(path); err == nil || !strings.Contains(err.Error(), "1000001 bytes") {
		t.Errorf("a notebook over the limit: %v", err)
	}
}

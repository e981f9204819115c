// Package nbcheck checks what a headless notebook run produced, so that CI can tell a notebook that really ran
// from one that merely exited: every code cell executed without an error output, the images it displayed, that
// the HTML export carries those images, and that a browser screenshot of the export is not blank.
//
// It reads Jupyter's nbformat 4 JSON directly and depends on nothing but the standard library, so that tests,
// the kernel tool and notebooks themselves can use it.
package nbcheck

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"regexp"
	"strings"
)

// Notebook is the part of an nbformat 4 notebook that the checks read.
type Notebook struct {
	Cells    []Cell   `json:"cells"`
	Metadata Metadata `json:"metadata"`
	NBFormat int      `json:"nbformat"`
}

// Metadata is the part of a notebook's metadata that the checks read.
type Metadata struct {
	// LanguageInfo is what the kernel said about its language when the notebook last ran (Jupyter copies its
	// kernel_info_reply here); the HTML exporter picks its syntax highlighter from it.
	LanguageInfo LanguageInfo `json:"language_info"`
}

// LanguageInfo is the notebook metadata's language_info.
type LanguageInfo struct {
	Name           string `json:"name"`
	PygmentsLexer  string `json:"pygments_lexer"`
	CodeMirrorMode any    `json:"codemirror_mode"` // a mode name, or an object such as {"name": "go"}
}

// Cell is one notebook cell. ExecutionCount is nil for a code cell that never ran.
type Cell struct {
	Type           string    `json:"cell_type"`
	Source         multiline `json:"source"`
	ExecutionCount *int      `json:"execution_count"`
	Outputs        []Output  `json:"outputs"`
}

// Output is one output of a code cell: a "stream", "display_data", "execute_result" or "error".
type Output struct {
	Type string `json:"output_type"`

	// Name and Text are set for streams ("stdout", "stderr").
	Name string    `json:"name"`
	Text multiline `json:"text"`

	// Data maps MIME types to their payload for display_data and execute_result. Payloads stay raw because
	// JSON-typed MIME bundles hold objects, not strings; Payload decodes the textual ones.
	Data map[string]json.RawMessage `json:"data"`

	// EName, EValue and Traceback are set for errors.
	EName     string   `json:"ename"`
	EValue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

// multiline is nbformat's multi-line string: either one string or a list of lines to concatenate.
type multiline string

func (m *multiline) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*m = multiline(s)
		return nil
	}
	var lines []string
	if err := json.Unmarshal(data, &lines); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %.40s", data)
	}
	*m = multiline(strings.Join(lines, ""))
	return nil
}

// String returns the text with its lines joined.
func (m multiline) String() string { return string(m) }

// Payload returns the textual payload of MIME type mime ("" when the output has none or it is not text).
func (o Output) Payload(mime string) string {
	raw, ok := o.Data[mime]
	if !ok {
		return ""
	}
	var text multiline
	if err := json.Unmarshal(raw, &text); err != nil {
		return ""
	}
	return text.String()
}

// Load reads the notebook at path.
func Load(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	nb, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nb, nil
}

// Parse decodes an nbformat 4 notebook.
func Parse(data []byte) (*Notebook, error) {
	var nb Notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("not a Jupyter notebook: %w", err)
	}
	if nb.NBFormat != 4 {
		return nil, fmt.Errorf("nbformat %d is not supported (want 4)", nb.NBFormat)
	}
	return &nb, nil
}

// CellFailure says which cell did not run cleanly and why. Index counts all cells from 0, as Jupyter's JSON
// does, so it points at the same cell in the .ipynb file and in the HTML export.
type CellFailure struct {
	Index   int
	Prompt  *int   // the cell's execution count, as the front-end shows it ("In [3]"), if it ran
	Source  string // the cell's source, for SourceHead
	Reason  string // "raised an error" or "did not run"
	Message string // "ename: evalue", when the cell has an error output
	Details string // the traceback without terminal colour codes
}

func (f *CellFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cell %d", f.Index)
	if f.Prompt != nil {
		fmt.Fprintf(&b, " (In [%d])", *f.Prompt)
	}
	fmt.Fprintf(&b, " %s", f.Reason)
	if f.Message != "" {
		fmt.Fprintf(&b, ": %s", f.Message)
	}
	fmt.Fprintf(&b, "\n  source:\n%s", indent(f.SourceHead(), "    | "))
	if f.Details != "" && f.Details != f.Message {
		fmt.Fprintf(&b, "\n  error report:\n%s", indent(f.Details, "    "))
	}
	return b.String()
}

// sourceHeadLines is how many source lines a failure report quotes: enough to recognise the cell.
const sourceHeadLines = 5

// SourceHead returns the first lines of the failing cell's source.
func (f *CellFailure) SourceHead() string {
	lines := strings.Split(strings.TrimRight(f.Source, "\n"), "\n")
	if len(lines) > sourceHeadLines {
		lines = append(lines[:sourceHeadLines], fmt.Sprintf("… (%d more lines)", len(lines)-sourceHeadLines))
	}
	return strings.Join(lines, "\n")
}

// FirstFailure returns the first code cell that has an error output or never ran, or nil when every code cell
// ran cleanly. Blank code cells are skipped: Jupyter does not execute them.
func (nb *Notebook) FirstFailure() *CellFailure {
	for i, cell := range nb.Cells {
		if cell.Type != "code" || strings.TrimSpace(cell.Source.String()) == "" {
			continue
		}
		for _, out := range cell.Outputs {
			if out.Type == "error" {
				return &CellFailure{Index: i, Prompt: cell.ExecutionCount, Source: cell.Source.String(),
					Reason:  "raised an error",
					Message: joinNonEmpty(": ", out.EName, out.EValue),
					Details: lastLines(stripANSI(joinNonEmpty("\n", traceback(out), errorReports(cell))), detailLines)}
			}
		}
		if cell.ExecutionCount == nil {
			return &CellFailure{Index: i, Source: cell.Source.String(), Reason: "did not run"}
		}
	}
	return nil
}

// FailureAt describes cell index as failed for a reason found outside the notebook (a timeout, a kernel that
// died), with whatever error reports the cell's outputs hold. It returns nil for an index out of range.
func (nb *Notebook) FailureAt(index int, reason, message string) *CellFailure {
	if index < 0 || index >= len(nb.Cells) {
		return nil
	}
	cell := nb.Cells[index]
	return &CellFailure{Index: index, Prompt: cell.ExecutionCount, Source: cell.Source.String(), Reason: reason,
		Message: message, Details: lastLines(stripANSI(errorReports(cell)), detailLines)}
}

// CodeCells counts the code cells that Jupyter executes (the non-blank ones).
func (nb *Notebook) CodeCells() int {
	n := 0
	for _, cell := range nb.Cells {
		if cell.Type == "code" && strings.TrimSpace(cell.Source.String()) != "" {
			n++
		}
	}
	return n
}

// Stdout returns everything the code cells printed to standard output, in cell order.
func (nb *Notebook) Stdout() string {
	var b strings.Builder
	for _, cell := range nb.Cells {
		for _, out := range cell.Outputs {
			if out.Type == "stream" && out.Name == "stdout" {
				b.WriteString(out.Text.String())
			}
		}
	}
	return b.String()
}

// detailLines is how much of a failing cell's error report a CellFailure keeps: the end, where Go's compiler
// errors and panics say what went wrong.
const detailLines = 30

// stderrMarker tags HTML outputs that are error reports: JupyterLab's class for standard error, which GoNB uses
// for its HTML compiler-error reports.
const stderrMarker = "application/vnd.jupyter.stderr"

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	styleBlock = regexp.MustCompile(`(?is)<style\b.*?</style>`)
	htmlTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	blankLines = regexp.MustCompile(`\n\s*\n+`)
)

// traceback returns an error output's traceback, or "" when it only repeats the error value (as GoNB's do).
func traceback(out Output) string {
	text := strings.Join(out.Traceback, "\n")
	if strings.TrimSpace(text) == strings.TrimSpace(out.EValue) {
		return ""
	}
	return text
}

// errorReports returns what a cell reported besides its error output: its standard error (a Go panic's message
// and stack) and the text of HTML error reports (GoNB's compiler errors).
func errorReports(cell Cell) string {
	var stderr strings.Builder // kernels stream it in arbitrary chunks: join them before trimming
	var reports []string
	for _, out := range cell.Outputs {
		switch {
		case out.Type == "stream" && out.Name == "stderr":
			stderr.WriteString(out.Text.String())
		case out.Type == "display_data" || out.Type == "execute_result":
			if page := out.Payload("text/html"); strings.Contains(page, stderrMarker) {
				text := html.UnescapeString(htmlTag.ReplaceAllString(styleBlock.ReplaceAllString(page, ""), ""))
				reports = append(reports, strings.TrimSpace(blankLines.ReplaceAllString(text, "\n")))
			}
		}
	}
	return joinNonEmpty("\n", append([]string{strings.TrimSpace(stderr.String())}, reports...)...)
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("… (%d lines before)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "\n")
}

// stripANSI removes terminal colour codes, which kernels put in tracebacks for Jupyter's front-ends.
func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

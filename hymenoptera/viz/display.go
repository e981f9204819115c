// Package viz holds the tutorial's visual helpers: torchvision's make_grid, the tutorial's imshow, the grid of
// predicted images of visualize_model, a class-probability view, training curves and a comparison of two runs,
// and the training progress a notebook cell shows while it trains.
//
// Every helper builds a Figure, and one mechanism shows it (Display.Show): inline in a GoNB notebook, as one image
// output (PNG or SVG) that the saved notebook and nbconvert's HTML export keep as it is; anywhere else, as a PNG or
// SVG file in the figures directory, whose path is printed. The figures are drawn here, so that they look the
// same in both places and depend on nothing the notebook's front-end may lack.
//
// viz never runs a model: callers pass the predictions, and the training history (train.History), in.
package viz

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
)

// Figure is one visual output: a PNG image or an SVG chart, shown as an image output in a notebook cell and
// saved as a file elsewhere.
type Figure interface {
	// Name is the file name, without extension, the figure is saved under (derived from its title).
	Name() string
	// Ext is the extension of the file form, ".png" or ".svg".
	Ext() string
	// Encode writes the figure: PNG or SVG, as Ext says.
	Encode(w io.Writer) error
}

// Mode says where a Display sends figures.
type Mode int

const (
	// Auto shows figures inline when the program runs under GoNB, and saves them to files otherwise.
	Auto Mode = iota
	// Notebook always sends figures to GoNB (whose calls do nothing outside a notebook).
	Notebook
	// Files always saves figures to files, in a notebook too.
	Files
)

// defaultFiguresDir is where a Display without a Dir saves figures: ./figures (a program that wants another
// place, from a flag or a setting, sets Dir).
const defaultFiguresDir = "figures"

// Display shows figures. Its zero value is ready to use: Auto mode, files in ./figures, paths printed to
// standard output. Within one Display no figure overwrites another: a name already saved gets a suffix (-2,
// -3, ...); a new run of the program writes the same names again, replacing the previous run's files.
type Display struct {
	Mode Mode
	// Dir is the directory figures are saved to (created when needed); "" means ./figures.
	Dir string
	// Log receives the path of each saved figure; nil means os.Stdout.
	Log io.Writer

	mu    sync.Mutex
	saved map[string]bool // file names this display has written or reserved
	// notebook receives the HTML in notebook mode; nil means GoNB's (tests substitute a recorder).
	notebook notebookOutput
}

// Default is the Display that Show, Imshow, VisualizeModel and NewTrainingProgress use.
var Default = &Display{}

// Show shows fig with the Default display.
func Show(fig Figure) error { return Default.Show(fig) }

// Show displays fig inline in a notebook, as one image output (image/png or image/svg+xml), or saves it to a file
// and prints the file's path.
func (d *Display) Show(fig Figure) error {
	if d.inNotebook() {
		var b bytes.Buffer
		if err := fig.Encode(&b); err != nil {
			return fmt.Errorf("viz: rendering figure %q: %w", fig.Name(), err)
		}
		return d.output().image(fig.Ext(), b.Bytes())
	}
	path, err := d.Save(fig)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.log(), "figure saved to %s\n", path)
	return nil
}

// Save writes fig's file form, atomically, to a new path in the display's directory and returns that path.
func (d *Display) Save(fig Figure) (string, error) {
	path, err := d.reservePath(fig)
	if err != nil {
		return "", err
	}
	return path, writeFigure(path, fig)
}

func (d *Display) inNotebook() bool {
	return d.Mode == Notebook || (d.Mode == Auto && gonbui.IsNotebook)
}

func (d *Display) log() io.Writer {
	if d.Log == nil {
		return os.Stdout
	}
	return d.Log
}

func (d *Display) output() notebookOutput {
	if d.notebook == nil {
		return gonbOutput{}
	}
	return d.notebook
}

// reservePath picks the file fig is saved to, one no other figure of this display has, and creates its
// directory.
func (d *Display) reservePath(fig Figure) (string, error) {
	dir := d.Dir
	if dir == "" {
		dir = defaultFiguresDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("viz: creating the figures directory: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.saved == nil {
		d.saved = make(map[string]bool)
	}
	name := fig.Name() + fig.Ext()
	for i := 2; d.saved[name]; i++ {
		name = fig.Name() + "-" + strconv.Itoa(i) + fig.Ext()
	}
	d.saved[name] = true
	return filepath.Join(dir, name), nil
}

// writeFigure writes fig's file form to path, atomically.
func writeFigure(path string, fig Figure) error {
	if err := atomicfile.Write(path, fig.Encode); err != nil {
		return fmt.Errorf("viz: saving figure to %s: %w", path, err)
	}
	return nil
}

// notebookOutput is what a Display needs from the notebook: image outputs, and an HTML output updated in place
// (the training progress).
type notebookOutput interface {
	image(ext string, data []byte) error
	update(id, html string) error
	newID() string
}

// gonbOutput sends outputs to the GoNB kernel as display_data: figures as image/png or image/svg+xml, which a saved
// notebook keeps once and nbconvert's HTML export embeds, and the progress as text/html.
type gonbOutput struct{}

// Each output is followed by gonbui.Sync, which returns once GoNB has taken everything sent before it: a cell's
// program that exits right after displaying could otherwise end before GoNB reads its last output from the pipe,
// and the figure would be missing from the notebook.
func (gonbOutput) image(ext string, data []byte) error {
	var content any = data // image/png: GoNB base64-encodes bytes
	mime := protocol.MIMEImagePNG
	if ext == ".svg" {
		content, mime = string(data), protocol.MIMEImageSVG
	}
	gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{mime: content}})
	gonbui.Sync()
	return notebookError()
}

// update sends html to the transient output id: GoNB publishes it with transient.display_id, so the first call
// creates the output and later ones replace it (update_display_data).
func (gonbOutput) update(id, html string) error {
	gonbui.UpdateHTML(id, html)
	gonbui.Sync()
	return notebookError()
}

func (gonbOutput) newID() string { return "hymenoptera-viz-" + gonbui.UniqueId() }

func notebookError() error {
	if err := gonbui.Error(); err != nil {
		return fmt.Errorf("viz: the connection to the notebook failed: %w", err)
	}
	return nil
}

// fileName turns a title into a file name: lower-case letters and digits, other runs of characters made one
// dash, at most 60 characters; fallback when nothing is left.
func fileName(title, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			if b.Len() >= 60 {
				break
			}
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return fallback
	}
	return b.String()
}

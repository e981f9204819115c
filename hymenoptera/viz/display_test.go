package viz

import (
	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// recorder stands in for the notebook: it records what a Display sends, in order.
type recorder struct {
	events []event
	ids    int // outputs created by newID
}

// event is an image output (kind "image": its extension and file bytes) or an update of an output in place (kind
// "update": the output's id and its HTML in data).
type event struct {
	kind, ext, id string
	data          []byte
}

func (r *recorder) image(ext string, data []byte) error {
	r.events = append(r.events, event{kind: "image", ext: ext, data: bytes.Clone(data)})
	return nil
}

func (r *recorder) update(id, html string) error {
	r.events = append(r.events, event{kind: "update", id: id, data: []byte(html)})
	return nil
}

func (r *recorder) newID() string {
	r.ids++
	return "output-" + strconv.Itoa(r.ids)
}

// images returns the recorded image outputs.
func (r *recorder) images() []event {
	var images []event
	for _, e := range r.events {
		if e.kind == "image" {
			images = append(images, e)
		}
	}
	return images
}

// filesDisplay saves into a temporary directory and logs into a buffer.
func filesDisplay(t *testing.T) (*Display, *bytes.Buffer) {
	var log bytes.Buffer
	return &Display{Mode: Files, Dir: t.TempDir(), Log: &log}, &log
}

// decodePNG decodes a PNG file's bytes.
func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// textImage is s drawn in the PNG font in colour c (as "#rrggbb") on white, one line high: what a figure's PNG
// shows where it writes s on one line.
func textImage(s, c string) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, textWidth(s), lineHeight))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	drawText(img, s, 0, textWidth(s), 0, c)
	return img
}

// contains reports whether want appears in img unscaled, somewhere, pixel for pixel.
func contains(img, want image.Image) bool { return resembles(img, want, 0) }

// showsPhoto reports whether want appears in img unscaled, somewhere, as a figure's 256-colour PNG shows it: each
// channel dithered, off by at most 24 levels (of 255) on average over the image, where another part of the
// picture, or white, is off by far more.
func showsPhoto(img, want image.Image) bool { return resembles(img, want, 24) }

// resembles reports whether want appears in img unscaled, somewhere, with a mean absolute difference per channel
// of at most tolerance levels (0: pixel for pixel).
func resembles(img, want image.Image, tolerance float64) bool {
	ib, wb := img.Bounds(), want.Bounds()
	budget := tolerance * 257 * 3 * float64(wb.Dx()*wb.Dy()) // RGBA() is 16-bit
	for y0 := ib.Min.Y; y0+wb.Dy() <= ib.Max.Y; y0++ {
	next:
		for x0 := ib.Min.X; x0+wb.Dx() <= ib.Max.X; x0++ {
			var off float64
			for y := range wb.Dy() {
				for x := range wb.Dx() {
					r1, g1, b1, _ := img.At(x0+x, y0+y).RGBA()
					r2, g2, b2, _ := want.At(wb.Min.X+x, wb.Min.Y+y).RGBA()
					off += math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) +
						math.Abs(float64(b1)-float64(b2))
					if off > budget {
						continue next
					}
				}
			}
			return true
		}
	}
	return false
}

// gradient is a normalised h×w tensor whose un-normalised pixels all differ.
func gradient(h, w int) *transforms.Tensor {
	t := transforms.NewTensor(h, w, 3)
	for i := range t.Data {
		t.Data[i] = float32(i%97)/40 - 1.2
	}
	return t
}

func TestUnnormalizedIsTheTutorialsImshow(t *testing.T) {
	arrays := gridFixtures(t)
	grid, shape := fixtureArray(t, arrays, "grid_default")
	want, _ := fixtureArray(t, arrays, "imshow_default")
	values := make([]float32, len(grid))
	for i, v := range grid {
		values[i] = float32(v)
	}
	img, err := Unnormalized(tensorOf(shape[0], shape[1], values))
	if err != nil {
		t.Fatal(err)
	}
	var clipped int
	for i, v := range want {
		if v == 0 || v == 1 {
			clipped++
		}
		got := float64(img.Pix[i/3*4+i%3]) / 255
		// The tutorial's values are float64, the image's 8-bit: they agree to half a step, plus float32 rounding.
		if math.Abs(got-v) > 0.5/255+1e-6 {
			t.Fatalf("pixel %d channel %d: %v, the tutorial's imshow %v", i/3, i%3, got, v)
		}
	}
	if clipped == 0 {
		t.Fatal("the fixture exercises no clipping: regenerate it with reference/viz_fixtures.py")
	}
}

func TestUnnormalizedRejectsNonRGB(t *testing.T) {
	_, err := Unnormalized(&transforms.Tensor{Data: make([]float32, 4), H: 2, W: 2, C: 1})
	if err == nil || !strings.Contains(err.Error(), "1 channels") {
		t.Fatalf("got %v, want an error about the channels", err)
	}
}

func TestShowInNotebookSendsOnePNG(t *testing.T) {
	notebook := &recorder{}
	d := &Display{Mode: Notebook, notebook: notebook, Dir: t.TempDir()}
	img, err := Unnormalized(gradient(7, 160))
	if err != nil {
		t.Fatal(err)
	}
	fig := ImageFigure(img, "[ants bees <ants>]")
	if err := d.Show(fig); err != nil {
		t.Fatal(err)
	}
	if len(notebook.events) != 1 || notebook.events[0].kind != "image" || notebook.events[0].ext != ".png" {
		t.Fatalf("the notebook got %d events, want one PNG image: %+v", len(notebook.events), notebook.events)
	}
	sent := notebook.events[0].data
	if !bytes.Equal(sent, encode(t, fig)) {
		t.Fatal("the image output is not the figure's PNG file")
	}
	shown := decodePNG(t, sent)
	if b := shown.Bounds(); b.Dx() != 2*margin+160 || !showsPhoto(shown, img) {
		t.Fatalf("the PNG (%v) does not show the image unscaled", b)
	}
	if !contains(shown, textImage("[ants bees <ants>]", textColor)) {
		t.Fatal("the PNG does not show the title")
	}
	if files, _ := os.ReadDir(d.Dir); len(files) != 0 {
		t.Fatalf("a notebook display wrote files: %v", files)
	}
}

func TestShowInNotebookSendsChartsAsSVG(t *testing.T) {
	notebook := &recorder{}
	d := &Display{Mode: Notebook, notebook: notebook}
	if err := d.Show(CurvesFigure(history(3), "Fine-tuning")); err != nil {
		t.Fatal(err)
	}
	if len(notebook.events) != 1 || notebook.events[0].kind != "image" || notebook.events[0].ext != ".svg" {
		t.Fatalf("the notebook got %d events, want one SVG image: %+v", len(notebook.events), notebook.events)
	}
	doc := parseSVG(t, notebook.events[0].data)
	if len(doc.polylines) != 4 || len(doc.polylines[0].points) != 3 || !doc.hasText("Fine-tuning") {
		t.Fatalf("the SVG has %d polylines, texts %q", len(doc.polylines), doc.texts)
	}
}

func TestShowInNotebookReportsAFigureThatFails(t *testing.T) {
	notebook := &recorder{}
	d := &Display{Mode: Notebook, notebook: notebook}
	err := d.Show(failingFigure{})
	if err == nil || !strings.Contains(err.Error(), "encoder failed") || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("got %v, want the encoder's error naming the figure", err)
	}
	if len(notebook.events) != 0 {
		t.Fatalf("a failed figure sent %+v", notebook.events)
	}
}

func TestShowOutsideNotebookSavesAPNGAndPrintsItsPath(t *testing.T) {
	d, log := filesDisplay(t)
	img, err := Unnormalized(gradient(20, 30))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Show(ImageFigure(img, "ants, bees")); err != nil {
			t.Fatal(err)
		}
	}
	first, second := filepath.Join(d.Dir, "ants-bees.png"), filepath.Join(d.Dir, "ants-bees-2.png")
	if want := "figure saved to " + first + "\nfigure saved to " + second + "\n"; log.String() != want {
		t.Fatalf("printed %q, want %q", log.String(), want)
	}
	f, err := os.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", first, err)
	}
	if !showsPhoto(saved, img) {
		t.Fatal("the saved PNG does not show the image unscaled")
	}
	if b := saved.Bounds(); b.Dy() < 20+lineHeight {
		t.Fatalf("the saved PNG (%v) has no room for the title", b)
	}
	if files, _ := os.ReadDir(d.Dir); len(files) != 2 {
		t.Fatalf("the figures directory holds %d files, want the 2 figures: %v", len(files), files)
	}
}

// failingFigure writes part of its file and then fails, as an encoder running out of memory would.
type failingFigure struct{}

func (failingFigure) Name() string { return "broken" }
func (failingFigure) Ext() string  { return ".svg" }
func (failingFigure) Encode(w io.Writer) error {
	io.WriteString(w, "<svg")
	return errors.New("encoder failed")
}

func TestSaveLeavesNoHalfWrittenFile(t *testing.T) {
	d, log := filesDisplay(t)
	err := d.Show(failingFigure{})
	if err == nil || !strings.Contains(err.Error(), "encoder failed") || !strings.Contains(err.Error(), "broken.svg") {
		t.Fatalf("got %v, want the encoder's error naming the file", err)
	}
	if files, _ := os.ReadDir(d.Dir); len(files) != 0 {
		t.Fatalf("a failed save left %v", files)
	}
	if log.Len() != 0 {
		t.Fatalf("a failed save printed %q", log.String())
	}
}

func TestFileName(t *testing.T) {
	cases := map[string]string{
		"['ants', 'bees']":            "ants-bees",
		"Fine-tuning: ResNet-18 (25)": "fine-tuning-resnet-18-25",
		"  ":                          "fallback",
		strings.Repeat("a", 100):      strings.Repeat("a", 60),
	}
	for title, want := range cases {
		if got := fileName(title, "fallback"); got != want {
			t.Errorf("fileName(%q) = %q, want %q", title, got, want)
		}
	}
}

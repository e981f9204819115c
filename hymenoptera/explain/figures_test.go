package explain

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
	"github.com/hymenoptera-go/tutorial/hymenoptera/viz"
)

// encodeFigure returns fig's file form, saved under HYMENOPTERA_TEST_FIGURES too when set (to look at them).
func encodeFigure(t *testing.T, fig viz.Figure) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fig.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("HYMENOPTERA_TEST_FIGURES"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, fig.Name()+fig.Ext()), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

var markerPath = regexp.MustCompile(`<path d="M[^"]*A`)

// TestFigures: the four figures of the validation split draw what they show (the counts and the
// classes in the confusion matrix, one point per image in the scatter, PNGs that decode) and stay small enough
// for a notebook (under 100 kB each with 224×224 images).
func TestFigures(t *testing.T) {
	g := loadGolden(t)
	ev := g.evaluation(t)

	confusion, err := ev.ConfusionFigure("confusion")
	if err != nil {
		t.Fatal(err)
	}
	svg := string(encodeFigure(t, confusion))
	for _, row := range g.want.Confusion {
		for _, n := range row {
			if !strings.Contains(svg, ">"+strconv.Itoa(n)+"</text>") {
				t.Errorf("the confusion matrix does not show the count %d", n)
			}
		}
	}

	scatter, err := ev.FeatureSpaceFigure("features")
	if err != nil {
		t.Fatal(err)
	}
	// The markers are the chart's only arcs (gonum.org/v1/plot draws a circle as a path of two arcs).
	if points := len(markerPath.FindAllString(string(encodeFigure(t, scatter)), -1)); points != len(ev.Samples) {
		t.Errorf("the scatter has %d points for %d images", points, len(ev.Samples))
	}

	mistakes, err := ev.MistakesFigure(8, "mistakes")
	if err != nil {
		t.Fatal(err)
	}
	folder, err := datasets.NewImageFolder(filepath.Join(g.dir, "val"))
	if err != nil {
		t.Fatal(err)
	}
	images, labels, err := FirstImages(context.Background(), dataloader.New(folder, transforms.Val(224),
		dataloader.Options{BatchSize: 4}), 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 6 || labels[0] != ev.Samples[0].Label {
		t.Fatalf("FirstImages gave %d images, labels %v", len(images), labels)
	}
	gradCAM, err := g.explainer.GradCAMFigure(images, labels, "grad-cam")
	if err != nil {
		t.Fatal(err)
	}
	for _, fig := range []viz.Figure{mistakes, gradCAM} {
		data := encodeFigure(t, fig)
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("%s: %v", fig.Name(), err)
		}
		t.Logf("%s: %d bytes", fig.Name(), len(data))
		if len(data) > 100_000 {
			t.Errorf("%s takes %d bytes (> 100 kB)", fig.Name(), len(data))
		}
	}
}

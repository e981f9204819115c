package viz

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// shifted is gradient(h, w) made brighter by shift: a different image for each shift.
func shifted(h, w int, shift float32) *transforms.Tensor {
	t := gradient(h, w)
	for i := range t.Data {
		t.Data[i] += shift
	}
	return t
}

func TestPredictionsFigureCaptionsEachImage(t *testing.T) {
	preds := []Prediction{
		{Image: shifted(10, 120, 0), Predicted: "ants"},
		{Image: shifted(10, 120, 0.1), Predicted: "bees", Actual: "bees"},
		{Image: shifted(10, 120, 0.2), Predicted: "bees", Actual: "ants"},
	}
	fig, err := PredictionsFigure(preds, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	saved := decodePNG(t, encode(t, fig))
	for i, p := range preds {
		img, _ := Unnormalized(p.Image)
		if !showsPhoto(saved, img) {
			t.Fatalf("the PNG does not show image %d unscaled", i)
		}
	}
	// Two columns of 120-pixel images, two rows of 10-pixel images under their captions.
	if b := saved.Bounds(); b.Dx() != 2*margin+2*120+gap || b.Dy() < 2*10+4*lineHeight {
		t.Fatalf("the PNG is %v", b)
	}
	for _, want := range []textLine{
		{"predicted: ants", textColor},
		{"predicted: bees", rightColor}, {"true: bees", rightColor},
		{"predicted: bees", wrongColor}, {"true: ants", wrongColor},
	} {
		if !contains(saved, textImage(want.text, want.color)) {
			t.Errorf("the PNG lacks the caption %q in %s", want.text, want.color)
		}
	}
}

func TestPredictionsFigureRejectsBadInput(t *testing.T) {
	if _, err := PredictionsFigure(nil, 2, ""); err == nil {
		t.Error("no error for no predictions")
	}
	if _, err := PredictionsFigure([]Prediction{{Image: gradient(2, 2)}}, 0, ""); err == nil {
		t.Error("no error for 0 columns")
	}
	_, err := PredictionsFigure([]Prediction{{Image: gradient(2, 2)}, {Predicted: "ants"}}, 2, "")
	if err == nil || !strings.Contains(err.Error(), "prediction 1") {
		t.Errorf("got %v, want an error naming prediction 1", err)
	}
}

func TestProbabilitiesFigure(t *testing.T) {
	fig, err := ProbabilitiesFigure(gradient(16, 16), []string{"ants", "bees"}, []float32{0.25, 0.75}, "")
	if err != nil {
		t.Fatal(err)
	}
	if fig.Name() != "predicted-bees" {
		t.Errorf("named %q, want the default title's", fig.Name())
	}
	doc := parseSVG(t, encode(t, fig))
	if doc.count["image"] != 1 || !strings.HasPrefix(doc.imageHref, "data:image/png;base64,") {
		t.Fatalf("the SVG file embeds %d images (%.30q)", doc.count["image"], doc.imageHref)
	}
	embedded, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(doc.imageHref, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("the embedded image is not base64: %v", err)
	}
	if img, _ := Unnormalized(gradient(16, 16)); !contains(decodePNG(t, embedded), img) {
		t.Fatal("the embedded PNG is not the image")
	}
	for _, want := range []string{"predicted: bees", "25.0%", "75.0%", "ants", "bees"} {
		if !doc.hasText(want) {
			t.Errorf("the SVG lacks text %q in %q", want, doc.texts)
		}
	}
	// The bars: one per class from the same origin, as long as the probability, the most probable in the
	// stronger colour.
	if len(doc.polygons) != 2 {
		t.Fatalf("the SVG file has %d bars: %+v", len(doc.polygons), doc.polygons)
	}
	ants, bees := doc.polygons[0], doc.polygons[1]
	if ants.fill == bees.fill || bees.fill != palette[0] || math.Abs(ants.left-bees.left) > 0.01 ||
		math.Abs((ants.right-ants.left)/(bees.right-bees.left)-0.25/0.75) > 0.01 {
		t.Fatalf("bars %+v, %+v: want 25%% and 75%% from the same origin, bees in %s", ants, bees, palette[0])
	}
}

func TestProbabilitiesFigureRejectsBadInput(t *testing.T) {
	cases := map[string][]float32{
		"2 class names for 1 probabilities": {1},
		`probability of "bees" is NaN`:      {0.5, float32(math.NaN())},
		`probability of "ants" is -0.1`:     {-0.1, 1},
	}
	for want, probs := range cases {
		_, err := ProbabilitiesFigure(gradient(2, 2), []string{"ants", "bees"}, probs, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error mentioning %s", err, want)
		}
	}
}

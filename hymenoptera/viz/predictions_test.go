package viz

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestPredictionsFigureCaptionsEachImage(t *testing.T) {
	preds := []Prediction{
		{Image: gradient(10, 12), Predicted: "ants"},
		{Image: gradient(10, 12), Predicted: "bees", Actual: "bees"},
		{Image: gradient(10, 12), Predicted: "bees", Actual: "ants"},
	}
	fig, err := PredictionsFigure(preds, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	html, err := fig.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(htmlImages(t, html)); n != 3 {
		t.Fatalf("the HTML shows %d images, want 3", n)
	}
	for _, want := range []string{
		`grid-template-columns:repeat(2,auto)`,
		`<figcaption style="color:#000000">predicted: ants</figcaption>`,
		`<figcaption style="color:` + rightColor + `">true: bees</figcaption>`,
		`<figcaption style="color:` + wrongColor + `">true: ants</figcaption>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %s", want)
		}
	}

	var file bytes.Buffer
	if err := fig.Encode(&file); err != nil {
		t.Fatal(err)
	}
	saved, err := png.Decode(&file)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := Unnormalized(gradient(10, 12))
	if !contains(saved, img) {
		t.Fatal("the PNG does not show the images unscaled")
	}
	// Two columns of 12-pixel images, two rows of 10-pixel images under their captions.
	if b := saved.Bounds(); b.Dx() != 2*margin+2*12+gap || b.Dy() < 2*10+4*lineHeight {
		t.Fatalf("the PNG is %v", b)
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
	html, err := fig.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(htmlImages(t, html)); n != 1 {
		t.Fatalf("the HTML shows %d images, want 1", n)
	}
	for _, want := range []string{"predicted: bees", "25.0%", "75.0%", ">ants<"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	var file bytes.Buffer
	if err := fig.Encode(&file); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, file.Bytes())
	if doc.count["image"] != 1 || !strings.HasPrefix(doc.imageHref, "data:image/png;base64,") {
		t.Fatalf("the SVG file embeds %d images (%.30q)", doc.count["image"], doc.imageHref)
	}
	// The bars: a background and a bar per class, the bar as long as the probability.
	if doc.count["rect"] != 1+2*2 {
		t.Fatalf("the SVG file has %d rects", doc.count["rect"])
	}
	full, ants, bees := doc.rectWidths[1], doc.rectWidths[2], doc.rectWidths[4]
	if math.Abs(ants/full-0.25) > 0.01 || math.Abs(bees/full-0.75) > 0.01 {
		t.Fatalf("bars %v, %v of %v", ants, bees, full)
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

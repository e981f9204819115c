package viz

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/train"
)

// svgDoc is what the tests read from an SVG document, walked with encoding/xml's strict decoder.
type svgDoc struct {
	count      map[string]int // elements by name
	polylines  []polyline
	texts      []string
	rectWidths []float64
	imageHref  string
}

type polyline struct {
	stroke string
	points [][2]float64
}

func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	doc := svgDoc{count: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth, inText := 0, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && tok.Name.Local != "svg" {
				t.Fatalf("the root element is <%s>", tok.Name.Local)
			}
			doc.count[tok.Name.Local]++
			attr := func(name string) string {
				for _, a := range tok.Attr {
					if a.Name.Local == name && a.Name.Space == "" {
						return a.Value
					}
				}
				return ""
			}
			switch tok.Name.Local {
			case "polyline":
				p := polyline{stroke: attr("stroke")}
				for _, pair := range strings.Fields(attr("points")) {
					x, y, _ := strings.Cut(pair, ",")
					p.points = append(p.points, [2]float64{parse(t, x), parse(t, y)})
				}
				doc.polylines = append(doc.polylines, p)
			case "rect":
				if w := attr("width"); !strings.HasSuffix(w, "%") {
					doc.rectWidths = append(doc.rectWidths, parse(t, w))
				} else {
					doc.rectWidths = append(doc.rectWidths, math.NaN())
				}
			case "image":
				doc.imageHref = attr("href")
			case "text":
				inText = true
				doc.texts = append(doc.texts, "")
			}
		case xml.EndElement:
			depth--
			inText = inText && tok.Name.Local != "text"
		case xml.CharData:
			if inText {
				doc.texts[len(doc.texts)-1] += string(tok)
			}
		}
	}
	if depth != 0 || doc.count["svg"] == 0 {
		t.Fatalf("no complete <svg> document: %s", data)
	}
	return doc
}

func parse(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

func (d svgDoc) hasText(s string) bool {
	for _, text := range d.texts {
		if text == s {
			return true
		}
	}
	return false
}

// history is n epochs of a run that improves: loss falls and accuracy rises every epoch.
func history(n int) train.History {
	var h train.History
	for i := range n {
		e := train.EpochRecord{Epoch: i, LearningRate: 0.001}
		e.Train = train.PhaseStats{Loss: 0.7 - 0.05*float64(i), Accuracy: 0.6 + 0.03*float64(i), Samples: 244, Seconds: 50}
		e.Val = train.PhaseStats{Loss: 0.5 - 0.04*float64(i), Accuracy: 0.7 + 0.02*float64(i), Samples: 153, Seconds: 10}
		h.Epochs = append(h.Epochs, e)
	}
	return h
}

func encode(t *testing.T, fig Figure) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fig.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCurvesFigureSVG(t *testing.T) {
	doc := parseSVG(t, encode(t, CurvesFigure(history(5), "Fine-tuning")))
	if len(doc.polylines) != 4 {
		t.Fatalf("%d polylines, want train and val for loss and for accuracy", len(doc.polylines))
	}
	for i, p := range doc.polylines {
		if len(p.points) != 5 {
			t.Fatalf("polyline %d has %d points, want one per epoch", i, len(p.points))
		}
		for j := 1; j < len(p.points); j++ {
			dx, dy := p.points[j][0]-p.points[j-1][0], p.points[j][1]-p.points[j-1][1]
			if dx <= 0 {
				t.Fatalf("polyline %d does not go right epoch by epoch: %v", i, p.points)
			}
			// SVG's y grows downwards: falling loss goes down the page (dy > 0), rising accuracy up.
			if loss := i < 2; loss != (dy > 0) {
				t.Fatalf("polyline %d goes the wrong way: %v", i, p.points)
			}
		}
	}
	if doc.polylines[0].stroke == doc.polylines[1].stroke {
		t.Fatal("train and val curves have the same colour")
	}
	for _, want := range []string{"Fine-tuning", "Loss", "Accuracy", "epoch", "loss", "accuracy", "train", "val", "0", "4"} {
		if !doc.hasText(want) {
			t.Errorf("no text %q in %q", want, doc.texts)
		}
	}
}

func TestCurvesFigureEdgeCases(t *testing.T) {
	doc := parseSVG(t, encode(t, CurvesFigure(train.History{}, "")))
	if len(doc.polylines) != 0 || !doc.hasText("epoch") {
		t.Fatalf("an empty history drew %d polylines, texts %q", len(doc.polylines), doc.texts)
	}
	doc = parseSVG(t, encode(t, CurvesFigure(history(1), "")))
	if len(doc.polylines) != 4 || len(doc.polylines[0].points) != 1 || doc.count["circle"] != 4 {
		t.Fatalf("one epoch: %d polylines, %d markers", len(doc.polylines), doc.count["circle"])
	}
	h := history(3)
	h.Epochs[1].Train.Loss = math.NaN()
	h.Epochs[2].Val.Loss = math.Inf(1)
	doc = parseSVG(t, encode(t, CurvesFigure(h, "")))
	if n, m := len(doc.polylines[0].points), len(doc.polylines[1].points); n != 2 || m != 2 {
		t.Fatalf("non-finite losses: curves of %d and %d points, want 2 and 2", n, m)
	}
}

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		lo, hi  float64
		integer bool
		want    []float64
	}{
		{0, 24, true, []float64{0, 5, 10, 15, 20, 25}},
		{0, 2, true, []float64{0, 1, 2}},
		{3, 3, true, []float64{2, 3, 4}},
		{0.62, 0.95, false, []float64{0.6, 0.7, 0.8, 0.9, 1}},
		{0.2, 0.2, false, []float64{0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.26}},
	}
	for _, c := range cases {
		got := niceTicks(c.lo, c.hi, 5, c.integer)
		ok := len(got.values) == len(c.want) && got.lo == got.values[0] && got.hi == got.values[len(got.values)-1]
		for i := range c.want {
			ok = ok && math.Abs(got.values[i]-c.want[i]) < 1e-9
		}
		if !ok || got.lo > c.lo || got.hi < c.hi {
			t.Errorf("niceTicks(%v, %v) = %v [%v, %v], want %v", c.lo, c.hi, got.values, got.lo, got.hi, c.want)
		}
	}
	if got := niceTicks(0.62, 0.95, 5, false); got.label(0.7, true) != "70%" || got.label(0.7, false) != "0.7" {
		t.Errorf("labels %q, %q", got.label(0.7, true), got.label(0.7, false))
	}
}

func TestComparisonFigure(t *testing.T) {
	fixed := history(4)
	fixed.Epochs[3].Val.Accuracy = 0.5 // the best epoch is then 2
	fig := ComparisonFigure("Fine-tuning vs fixed features",
		Run{Name: "fine-tuning", History: history(5)}, Run{Name: "fixed feature extractor", History: fixed},
		Run{Name: "not started"})
	doc := parseSVG(t, encode(t, fig))
	// The title, then the table, a text per cell: best val acc, its epoch, epochs, total time (60 s an epoch).
	table := [][]string{
		comparisonColumns,
		{"fine-tuning", "0.7800", "4", "5", "5m 0s"},
		{"fixed feature extractor", "0.7400", "2", "4", "4m 0s"},
		{"not started", "–", "–", "0", "–"},
	}
	var want []string
	for _, row := range table {
		want = append(want, row...)
	}
	if len(doc.texts) < 1+len(want) || doc.texts[0] != "Fine-tuning vs fixed features" ||
		!slices.Equal(doc.texts[1:1+len(want)], want) {
		t.Fatalf("the SVG's title and table are %q, want the title and %q", doc.texts[:min(len(doc.texts), 1+len(want))], want)
	}
	if len(doc.polylines) != 2 || len(doc.polylines[0].points) != 5 || len(doc.polylines[1].points) != 4 {
		t.Fatalf("%d val-accuracy curves", len(doc.polylines))
	}
	if !doc.hasText("Validation accuracy") {
		t.Errorf("the SVG lacks the chart's title: %q", doc.texts)
	}
}

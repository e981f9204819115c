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

// svgDoc is what the tests read from an SVG document, walked with encoding/xml's strict decoder. The charts are
// gonum.org/v1/plot's SVG: every shape is a <path>, in a group that turns its y axis upwards, and the data are the
// paths in the colours of the series: curves (stroked, not filled), markers (filled circles, the only arcs), bars
// and legend keys (filled polygons). Their coordinates are read back into SVG's own, y growing downwards.
type svgDoc struct {
	count     map[string]int // elements by name
	polylines []polyline     // the curves
	markers   int            // filled circles
	polygons  []polygon      // filled polygons in a series' colour, but white
	texts     []string
	imageHref string
}

type polyline struct {
	stroke string
	points [][2]float64
}

// polygon is a filled polygon's colour and horizontal extent.
type polygon struct {
	fill        string
	left, right float64
}

func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	doc := svgDoc{count: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth, inText, height := 0, false, 0.0
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
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch tok.Name.Local {
			case "svg":
				if box := strings.Fields(attr("viewBox")); len(box) == 4 {
					height = parse(t, box[3])
				}
			case "path":
				doc.addPath(t, attr("d"), styleOf(attr("style")), height)
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

// styleOf reads a style attribute's properties.
func styleOf(style string) map[string]string {
	props := map[string]string{}
	for _, prop := range strings.Split(style, ";") {
		if k, v, ok := strings.Cut(prop, ":"); ok {
			props[strings.TrimSpace(k)] = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return props
}

// addPath files a path: the M and L points of a stroked curve in a series' colour, a filled circle, or a filled
// polygon that is not white (the background).
func (d *svgDoc) addPath(t *testing.T, data string, style map[string]string, height float64) {
	t.Helper()
	var points [][2]float64
	for _, part := range strings.FieldsFunc(data, func(r rune) bool { return r == 'M' || r == 'L' || r == 'Z' }) {
		if strings.Contains(part, "A") {
			if style["fill"] != "" && style["fill"] != "none" {
				d.markers++
			}
			return
		}
		x, y, _ := strings.Cut(part, ",")
		points = append(points, [2]float64{parse(t, x), height - parse(t, y)})
	}
	switch fill, stroke := style["fill"], style["stroke"]; {
	case fill == "none" && slices.Contains(palette, stroke):
		d.polylines = append(d.polylines, polyline{stroke: stroke, points: points})
	case fill != "none" && fill != "#ffffff" && len(points) > 0:
		p := polygon{fill: fill, left: math.Inf(1), right: math.Inf(-1)}
		for _, pt := range points {
			p.left, p.right = min(p.left, pt[0]), max(p.right, pt[0])
		}
		d.polygons = append(d.polygons, p)
	}
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
	if len(doc.polylines) != 0 || doc.markers != 4 {
		t.Fatalf("one epoch: %d polylines, %d markers, want a marker on each of 4 curves", len(doc.polylines),
			doc.markers)
	}
	h := history(3)
	h.Epochs[1].Train.Loss = math.NaN()
	h.Epochs[2].Val.Loss = math.Inf(1)
	doc = parseSVG(t, encode(t, CurvesFigure(h, "")))
	if n, m := len(doc.polylines[0].points), len(doc.polylines[1].points); n != 2 || m != 2 {
		t.Fatalf("non-finite losses: curves of %d and %d points, want 2 and 2", n, m)
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

// TestChartsAreSelfContained: every chart is one <svg> element that a notebook shows as it is and nbconvert's
// export embeds (no XML declaration), with no external resource (fonts are named, not fetched), and small: under
// 60 kB, an embedded image apart.
func TestChartsAreSelfContained(t *testing.T) {
	points, labels := make([][2]float64, 200), make([]int, 200)
	for i := range points {
		points[i], labels[i] = [2]float64{math.Sin(float64(i)), math.Cos(float64(3 * i))}, i%2
	}
	scatter, err := ScatterFigure(points, labels, []string{"ants", "bees"}, "features", "PC 1", "PC 2")
	if err != nil {
		t.Fatal(err)
	}
	probabilities, err := ProbabilitiesFigure(gradient(224, 224), []string{"ants", "bees"}, []float32{0.1, 0.9}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, fig := range []Figure{CurvesFigure(history(25), "Fine-tuning"), scatter, probabilities,
		ComparisonFigure("runs", Run{Name: "a", History: history(25)}, Run{Name: "b", History: history(25)})} {
		svg := string(encode(t, fig))
		if !strings.HasPrefix(svg, "<svg ") {
			t.Errorf("%s starts %.40q, not with its <svg> element", fig.Name(), svg)
		}
		for _, external := range []string{"url(", "@font-face", "@import", `href="http`} {
			if strings.Contains(svg, external) {
				t.Errorf("%s refers to an external resource (%s)", fig.Name(), external)
			}
		}
		if start := strings.Index(svg, "data:image/png;base64,"); start >= 0 {
			svg = svg[:start] + svg[start+strings.IndexByte(svg[start:], '"'):]
		}
		if len(svg) > 60_000 {
			t.Errorf("%s is %d bytes", fig.Name(), len(svg))
		}
		parseSVG(t, []byte(svg))
	}
}

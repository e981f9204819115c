package explain

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
)

// Confusion is a confusion matrix: Counts[t][p] images of true class t predicted as class p.
type Confusion struct {
	Classes []string
	Counts  [][]int
}

// NewConfusion counts the pairs (labels[i], predicted[i]), both class indices into classes.
func NewConfusion(classes []string, labels, predicted []int) (*Confusion, error) {
	if len(labels) != len(predicted) {
		return nil, fmt.Errorf("explain: %d labels for %d predictions", len(labels), len(predicted))
	}
	c := &Confusion{Classes: classes, Counts: make([][]int, len(classes))}
	for t := range c.Counts {
		c.Counts[t] = make([]int, len(classes))
	}
	for i, t := range labels {
		p := predicted[i]
		if t < 0 || t >= len(classes) || p < 0 || p >= len(classes) {
			return nil, fmt.Errorf("explain: image %d: label %d or prediction %d is out of range: %d classes",
				i, t, p, len(classes))
		}
		c.Counts[t][p]++
	}
	return c, nil
}

// Total is the number of images counted.
func (c *Confusion) Total() int {
	total := 0
	for _, row := range c.Counts {
		for _, n := range row {
			total += n
		}
	}
	return total
}

// Accuracy is the fraction of images on the diagonal (NaN for no image).
func (c *Confusion) Accuracy() float64 {
	correct := 0
	for k := range c.Counts {
		correct += c.Counts[k][k]
	}
	return ratio(correct, c.Total())
}

// Precision of class k: of the images predicted k, the fraction that are k. NaN when none is predicted k.
func (c *Confusion) Precision(k int) float64 {
	predicted := 0
	for t := range c.Counts {
		predicted += c.Counts[t][k]
	}
	return ratio(c.Counts[k][k], predicted)
}

// Recall of class k: of the images of class k, the fraction predicted k. NaN when there is none.
func (c *Confusion) Recall(k int) float64 {
	actual := 0
	for _, n := range c.Counts[k] {
		actual += n
	}
	return ratio(c.Counts[k][k], actual)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// String is the matrix as a text table (rows: true class, columns: predicted class), then precision and recall
// per class and the accuracy; an undefined ratio shows as "-".
func (c *Confusion) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "true \\ predicted\t")
	for _, name := range c.Classes {
		fmt.Fprintf(tw, "%s\t", name)
	}
	fmt.Fprint(tw, "\n")
	for t, row := range c.Counts {
		fmt.Fprintf(tw, "%s\t", c.Classes[t])
		for _, n := range row {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprint(tw, "\n")
	}
	fmt.Fprint(tw, "\nclass\tprecision\trecall\t\n")
	for k, name := range c.Classes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, Percent(c.Precision(k)), Percent(c.Recall(k)))
	}
	tw.Flush()
	fmt.Fprintf(&b, "accuracy: %s of %d images\n", Percent(c.Accuracy()), c.Total())
	return b.String()
}

// Percent formats a ratio as a percentage with one decimal, "-" when undefined (NaN).
func Percent(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}

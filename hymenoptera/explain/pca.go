package explain

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Projection is the result of a principal component analysis.
type Projection struct {
	// Points are the centred rows on the first k principal directions, n×k.
	Points [][]float64
	// Components are those directions (unit vectors, d values each), the largest variance first. A direction's
	// sign is arbitrary; here each one's largest-magnitude entry is positive, so that runs agree.
	Components [][]float64
	// Mean is the mean row that was subtracted.
	Mean []float64
	// ExplainedVariance is the fraction of the total variance along each direction.
	ExplainedVariance []float64
}

// PCA projects rows (n vectors of d values) on their first k principal components, from the singular value
// decomposition of the centred data in float64 (gonum's mat.SVD).
func PCA(rows [][]float32, k int) (*Projection, error) {
	n := len(rows)
	if n < 2 {
		return nil, fmt.Errorf("explain: PCA needs at least 2 rows, got %d", n)
	}
	d := len(rows[0])
	if k < 1 || k > min(n, d) {
		return nil, fmt.Errorf("explain: PCA: %d components asked of %d rows of %d values", k, n, d)
	}
	p := &Projection{Mean: make([]float64, d)}
	for i, row := range rows {
		if len(row) != d {
			return nil, fmt.Errorf("explain: PCA: row %d has %d values, row 0 has %d", i, len(row), d)
		}
		for j, v := range row {
			p.Mean[j] += float64(v) / float64(n)
		}
	}
	centred := mat.NewDense(n, d, nil)
	for i, row := range rows {
		for j, v := range row {
			centred.Set(i, j, float64(v)-p.Mean[j])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(centred, mat.SVDThinV) {
		return nil, fmt.Errorf("explain: PCA: the singular value decomposition did not converge")
	}
	values := svd.Values(nil)
	var v mat.Dense
	svd.VTo(&v)
	var total float64
	for _, s := range values {
		total += s * s
	}
	for c := range k {
		direction := mat.Col(nil, c, &v)
		largest := 0
		for j, x := range direction {
			if math.Abs(x) > math.Abs(direction[largest]) {
				largest = j
			}
		}
		if direction[largest] < 0 {
			for j := range direction {
				direction[j] = -direction[j]
			}
		}
		p.Components = append(p.Components, direction)
		p.ExplainedVariance = append(p.ExplainedVariance, values[c]*values[c]/total)
	}
	p.Points = make([][]float64, n)
	for i := range n {
		p.Points[i] = make([]float64, k)
		row := centred.RawRowView(i)
		for c, direction := range p.Components {
			p.Points[i][c] = mat.Dot(mat.NewVecDense(d, row), mat.NewVecDense(d, direction))
		}
	}
	return p, nil
}

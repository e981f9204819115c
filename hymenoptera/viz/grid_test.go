package viz

//go:generate /usr/bin/python3 ../reference/viz_fixtures.py

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/numpy"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// gridFixtures are torchvision's make_grid results on a 5-image batch of 3×4 images (reference/viz_fixtures.py).
func gridFixtures(t *testing.T) map[string]*tensors.Tensor {
	t.Helper()
	arrays, err := numpy.FromNpzFile(testenv.Fixture(t, "viz", "grid.npz"))
	if err != nil {
		t.Fatal(err)
	}
	return arrays
}

// fixtureArray returns a fixture's values as float64 and its shape.
func fixtureArray(t *testing.T, arrays map[string]*tensors.Tensor, name string) ([]float64, []int) {
	t.Helper()
	x, ok := arrays[name]
	if !ok {
		t.Fatalf("grid.npz has no %q: regenerate the fixtures", name)
	}
	var values []float64
	switch x.DType() {
	case dtypes.Float32:
		data, err := tensors.CopyFlatData[float32](x)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range data {
			values = append(values, float64(v))
		}
	case dtypes.Float64:
		data, err := tensors.CopyFlatData[float64](x)
		if err != nil {
			t.Fatal(err)
		}
		values = data
	default:
		t.Fatalf("%s: unexpected dtype %s", name, x.DType())
	}
	return values, x.Shape().Dimensions
}

func fixtureBatch(t *testing.T, arrays map[string]*tensors.Tensor) dataloader.Batch {
	t.Helper()
	values, shape := fixtureArray(t, arrays, "batch")
	b := dataloader.Batch{N: shape[0], H: shape[1], W: shape[2]}
	for _, v := range values {
		b.Images = append(b.Images, float32(v))
	}
	return b
}

func TestMakeGridMatchesTorchvision(t *testing.T) {
	arrays := gridFixtures(t)
	batch := fixtureBatch(t, arrays)
	n := batch.N
	cases := []struct {
		name string
		n    int
		opts []GridOption
	}{
		{"grid_default", n, nil},
		{"grid_nrow2_pad1_half", n, []GridOption{NRow(2), Padding(1), PadValue(0.5)}},
		{"grid_nrow3_pad0", n, []GridOption{NRow(3), Padding(0)}},
		{"grid_single", 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, shape := fixtureArray(t, arrays, c.name)
			first := dataloader.Batch{Images: batch.Images[:c.n*batch.H*batch.W*3], N: c.n, H: batch.H, W: batch.W}
			got, err := MakeGrid(first, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got.H != shape[0] || got.W != shape[1] || got.C != shape[2] {
				t.Fatalf("grid is %d×%d×%d, torchvision's %v", got.H, got.W, got.C, shape)
			}
			// A grid only copies values: they must be torchvision's exactly.
			for i, v := range got.Data {
				if float64(v) != want[i] {
					y, x := i/3/got.W, i/3%got.W
					t.Fatalf("pixel (%d, %d) channel %d: %v, torchvision %v", y, x, i%3, v, want[i])
				}
			}
		})
	}
}

func TestMakeGridDoesNotAliasItsInput(t *testing.T) {
	batch := dataloader.Batch{Images: []float32{1, 2, 3}, N: 1, H: 1, W: 1}
	grid, err := MakeGrid(batch)
	if err != nil {
		t.Fatal(err)
	}
	grid.Data[0] = 9
	if batch.Images[0] != 1 {
		t.Fatal("writing to the grid of one image changed the batch")
	}
}

func TestMakeGridRejectsBadInput(t *testing.T) {
	images := make([]float32, 2*3*4*3)
	cases := []struct {
		name    string
		n, h, w int
		opts    []GridOption
		want    string
	}{
		{"short batch", 3, 3, 4, nil, "72 values are not a batch of 3×3×4×3"},
		{"no images", 0, 3, 4, nil, "every dimension must be positive"},
		{"nrow 0", 2, 3, 4, []GridOption{NRow(0)}, "NRow(0)"},
		{"negative padding", 2, 3, 4, []GridOption{Padding(-1)}, "Padding(-1)"},
	}
	for _, c := range cases {
		_, err := MakeGrid(dataloader.Batch{Images: images, N: c.n, H: c.h, W: c.w}, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// tensorOf is a channels-last tensor holding values.
func tensorOf(h, w int, values []float32) *transforms.Tensor {
	return &transforms.Tensor{Data: values, H: h, W: w, C: 3}
}

package viz

//go:generate /usr/bin/python3 ../reference/viz_fixtures.py

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/numpy"

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

func fixtureBatch(t *testing.T, arrays map[string]*tensors.Tensor) (nhwc []float32, n, h, w int) {
	t.Helper()
	values, shape := fixtureArray(t, arrays, "batch")
	for _, v := range values {
		nhwc = append(nhwc, float32(v))
	}
	return nhwc, shape[0], shape[1], shape[2]
}

func TestMakeGridMatchesTorchvision(t *testing.T) {
	arrays := gridFixtures(t)
	nhwc, n, h, w := fixtureBatch(t, arrays)
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
			got, err := MakeGrid(nhwc[:c.n*h*w*3], c.n, h, w, c.opts...)
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
	batch := []float32{1, 2, 3}
	grid, err := MakeGrid(batch, 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	grid.Data[0] = 9
	if batch[0] != 1 {
		t.Fatal("writing to the grid of one image changed the batch")
	}
}

func TestMakeGridRejectsBadInput(t *testing.T) {
	batch := make([]float32, 2*3*4*3)
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
		_, err := MakeGrid(batch, c.n, c.h, c.w, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestSplitBatchSharesTheBatch(t *testing.T) {
	batch := make([]float32, 2*1*2*3)
	images, err := SplitBatch(batch, 2, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || images[1].H != 1 || images[1].W != 2 || images[1].C != 3 {
		t.Fatalf("got %d images, the second %+v", len(images), images[1])
	}
	images[1].Data[0] = 5
	if batch[6] != 5 {
		t.Fatal("image 1 does not start at value 6 of the batch")
	}
	if _, err := SplitBatch(batch, 3, 1, 2); err == nil {
		t.Fatal("a batch of 2 images split as 3")
	}
}

// tensorOf is a channels-last tensor holding values.
func tensorOf(h, w int, values []float32) *transforms.Tensor {
	return &transforms.Tensor{Data: values, H: h, W: w, C: 3}
}

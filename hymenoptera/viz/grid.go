package viz

import (
	"fmt"

	"github.com/hymenoptera-go/tutorial/hymenoptera/dataloader"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// gridConfig holds make_grid's keyword arguments that the tutorial's helpers use.
type gridConfig struct {
	nrow, padding int
	padValue      float32
}

// GridOption changes one of MakeGrid's defaults, which are torchvision's: NRow(8), Padding(2), PadValue(0).
type GridOption func(*gridConfig)

// NRow sets the number of images per row of the grid (make_grid's nrow).
func NRow(n int) GridOption { return func(c *gridConfig) { c.nrow = n } }

// Padding sets the width in pixels of the border around every image, the grid's outer edge included (make_grid's
// padding).
func Padding(pixels int) GridOption { return func(c *gridConfig) { c.padding = pixels } }

// PadValue sets the value of the border's pixels, in every channel (make_grid's pad_value). The tutorial grids
// normalised tensors, so the default 0 shows as ImageNet's mean colour once Imshow un-normalises the grid.
func PadValue(v float32) GridOption { return func(c *gridConfig) { c.padValue = v } }

// MakeGrid is torchvision.utils.make_grid for a batch in the model's layout: the batch's images (channels last)
// tiled row by row, min(nrow, N) to a row, each surrounded by padding pixels of padValue. It returns the same
// numbers as make_grid, channels last; like make_grid, a batch of one image comes back as that image, without
// padding.
//
// The grid keeps the batch's values, normalised or not: the tutorial grids the normalised batch and passes the
// grid to Imshow, which un-normalises it.
func MakeGrid(b dataloader.Batch, opts ...GridOption) (*transforms.Tensor, error) {
	cfg := gridConfig{nrow: 8, padding: 2}
	for _, opt := range opts {
		opt(&cfg)
	}
	n, h, w := b.N, b.H, b.W
	switch {
	case n < 1 || h < 1 || w < 1:
		return nil, fmt.Errorf("viz: MakeGrid: batch shape %d×%d×%d×3: every dimension must be positive", n, h, w)
	case len(b.Images) != n*h*w*3:
		return nil, fmt.Errorf("viz: MakeGrid: %d values are not a batch of %d×%d×%d×3", len(b.Images), n, h, w)
	case cfg.nrow < 1:
		return nil, fmt.Errorf("viz: MakeGrid: NRow(%d): must be at least 1", cfg.nrow)
	case cfg.padding < 0:
		return nil, fmt.Errorf("viz: MakeGrid: Padding(%d): must not be negative", cfg.padding)
	}
	if n == 1 {
		single := transforms.NewTensor(h, w, 3)
		copy(single.Data, b.Images)
		return single, nil
	}
	cols := min(cfg.nrow, n)
	rows := (n + cols - 1) / cols
	cellH, cellW := h+cfg.padding, w+cfg.padding
	grid := transforms.NewTensor(cellH*rows+cfg.padding, cellW*cols+cfg.padding, 3)
	for i := range grid.Data {
		grid.Data[i] = cfg.padValue
	}
	for k := range n {
		img := b.Image(k)
		top, left := (k/cols)*cellH+cfg.padding, (k%cols)*cellW+cfg.padding
		for y := range h {
			dst := ((top+y)*grid.W + left) * 3
			copy(grid.Data[dst:dst+w*3], img.Data[y*w*3:(y+1)*w*3])
		}
	}
	return grid, nil
}

package transforms

import (
	"math/rand/v2"
	"testing"
)

// TestResizeRegionIsACropOfTheResize checks the shortcut that Resize then CenterCrop takes, on sizes that need
// both passes, one or none.
func TestResizeRegionIsACropOfTheResize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range [][4]int{{500, 292, 438, 256}, {500, 292, 500, 256}, {500, 292, 438, 292}, {500, 292, 500, 292},
		{37, 300, 90, 41}, {300, 37, 41, 90}} {
		src := NewImage(c[0], c[1])
		for i := range src.Pix {
			src.Pix[i] = uint8(r.IntN(256))
		}
		w, h := c[2], c[3]
		full := resizeRegion(src, w, h, 0, 0, w, h)
		for range 20 {
			cw, ch := 1+r.IntN(w), 1+r.IntN(h)
			x0, y0 := r.IntN(w-cw+1), r.IntN(h-ch+1)
			region := resizeRegion(src, w, h, x0, y0, cw, ch)
			for y := range ch {
				if string(region.Row(y)) != string(full.Row(y0 + y)[3*x0:3*(x0+cw)]) {
					t.Fatalf("%d×%d to %d×%d: region %d×%d at (%d,%d) differs at row %d", c[0], c[1], w, h, cw, ch, x0, y0, y)
				}
			}
		}
	}
}

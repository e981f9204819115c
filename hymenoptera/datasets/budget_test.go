package datasets

import (
	"bytes"
	"image"
	"image/png"
	"sync"
	"testing"
)

// TestDecodeBudgetIsShared: concurrent decodes of images that fit the budget only one at a time all succeed,
// and never hold more pixels at once than the budget.
func TestDecodeBudgetIsShared(t *testing.T) {
	const w, h = 300, 200
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	ppm := append([]byte("P6 300 200 255\n"), make([]byte, 3*w*h)...)
	saved := decodeBudget
	defer func() { decodeBudget = saved }()
	decodeBudget = newPixelBudget(w * h * 3 / 2)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := buf.Bytes()
			if i%2 == 1 {
				data = ppm
			}
			if img, err := DecodeImage(data); err != nil || img.W != w || img.H != h {
				t.Errorf("decode %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if decodeBudget.peak != w*h || decodeBudget.used != 0 {
		t.Errorf("peak %d pixels in use (used now %d), want %d: one image at a time", decodeBudget.peak,
			decodeBudget.used, w*h)
	}
}

package datasets

import (
	"bytes"
	stdjpeg "image/jpeg"
	"sync"
)

// decodeBudget bounds the pixels of the images being decoded at once, across every goroutine of the process.
// The pixel limit (maxPixels) is per image: without a shared budget, eight loader workers decoding eight images
// just under it would need eight times the memory of one (5.5 GB for 13000×13000 JPEGs). With it, huge images
// wait their turn, while ordinary ones (a few hundred thousand pixels) are never held up by each other. An image
// of maxPixels always fits alone, so nothing waits forever.
var decodeBudget = newPixelBudget(maxPixels)

// pixelBudget is a counting semaphore of pixels.
type pixelBudget struct {
	mu         sync.Mutex
	freed      sync.Cond
	total      int64
	used, peak int64 // peak: the most ever in use, for tests
}

func newPixelBudget(total int64) *pixelBudget {
	b := &pixelBudget{total: total}
	b.freed.L = &b.mu
	return b
}

// acquire waits until n pixels (at most the total) are free and takes them; release gives them back.
func (b *pixelBudget) acquire(n int64) (release func()) {
	n = min(n, b.total)
	b.mu.Lock()
	for b.used+n > b.total {
		b.freed.Wait()
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.used -= n
		b.mu.Unlock()
		b.freed.Broadcast()
	}
}

// reserveDecode takes an image's pixels from decodeBudget, once its header gave its size, and returns the release.
func reserveDecode(w, h int) func() {
	return decodeBudget.acquire(int64(w) * int64(h))
}

// jpegSize reads the size in a JPEG's frame header. A header that Go's reader cannot parse (the decoder then
// refuses the file, or it is an exotic variant) counts as the largest size allowed.
func jpegSize(data []byte) (w, h int) {
	cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return maxPixels, 1
	}
	return cfg.Width, cfg.Height
}

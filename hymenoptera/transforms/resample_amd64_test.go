//go:build goexperiment.simd

package transforms

import (
	"math/rand/v2"
	"testing"

	"simd/archsimd"
)

// TestAVX2PassesMatchGeneric compares the vectorised resampling passes with the portable ones (which the golden
// tests check against PIL where there is no AVX2) on random images, up- and downscaling, narrow and wide.
func TestAVX2PassesMatchGeneric(t *testing.T) {
	if !archsimd.X86.AVX2() {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		w, h := 1+r.IntN(300), 1+r.IntN(40)
		src := NewImage(w, h)
		for i := range src.Pix {
			src.Pix[i] = uint8(r.IntN(256))
		}
		outW, outH := 1+r.IntN(260), 1+r.IntN(40)
		horizontal, vertical := bilinearKernel(w, outW), bilinearKernel(h, outH)
		want, got := NewImage(outW, h), NewImage(outW, h)
		resampleRowsGeneric(want, src, horizontal)
		resampleRowsAVX2(got, src, horizontal)
		if string(want.Pix) != string(got.Pix) {
			t.Fatalf("rows %d×%d to width %d: AVX2 differs", w, h, outW)
		}
		want, got = NewImage(w, outH), NewImage(w, outH)
		resampleColumnsGeneric(want, src, vertical)
		resampleColumnsAVX2(got, src, vertical)
		if string(want.Pix) != string(got.Pix) {
			t.Fatalf("columns %d×%d to height %d: AVX2 differs", w, h, outH)
		}
	}
}

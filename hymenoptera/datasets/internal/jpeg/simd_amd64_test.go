//go:build goexperiment.simd

package jpeg

import (
	"math/rand/v2"
	"testing"

	"simd/archsimd"
)

// TestIDCTAVX2MatchesIDCT compares the vectorised IDCT with the portable one, on blocks like real ones (small
// high frequencies) and on arbitrary 16-bit coefficients times quantisers, which overflow 32 bits.
func TestIDCTAVX2MatchesIDCT(t *testing.T) {
	if !archsimd.X86.AVX2() {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		var block [64]int32
		for k := range block {
			switch {
			case i%3 == 0:
				block[k] = int32(r.IntN(1<<16)-1<<15) * int32(1+r.IntN(255))
			case r.IntN(4) == 0 || k == 0:
				block[k] = int32(r.IntN(2048) - 1024)
			}
		}
		var want, got [8 * 11]uint8
		idct(&block, want[:], 11)
		idctAVX2(&block, got[:], 11)
		if want != got {
			t.Fatalf("block %v: AVX2 gives\n%v\nidct gives\n%v", block, got, want)
		}
	}
}

func TestYCCToRGBAVX2MatchesGeneric(t *testing.T) {
	if !archsimd.X86.AVX2() {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 70 {
		lum, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
		for i := range n {
			lum[i], cb[i], cr[i] = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))
		}
		want, got := make([]uint8, 3*n), make([]uint8, 3*n)
		yccToRGBGeneric(want, lum, cb, cr)
		yccToRGBAVX2(got, lum, cb, cr)
		if string(want) != string(got) {
			t.Fatalf("%d pixels: AVX2 %v, generic %v", n, got, want)
		}
	}
}

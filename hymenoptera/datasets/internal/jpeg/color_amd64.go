//go:build goexperiment.simd

package jpeg

import "simd/archsimd"

// An AVX2 version of yccToRGB: libjpeg's tables are linear in Cb and Cr, so the same values come from the
// arithmetic that built them, eight pixels at a time.

func init() {
	if archsimd.X86.AVX2() {
		yccToRGB = yccToRGBAVX2
	}
}

func yccToRGBAVX2(out, lum, cbRow, crRow []uint8) {
	splat := archsimd.BroadcastInt32x8
	c128, half := splat(128), splat(1<<15)
	crR, cbB, cbG, crG := splat(fix(1.40200)), splat(fix(1.77200)), splat(-fix(0.34414)), splat(-fix(0.71414))
	zero, top := splat(0), splat(255)
	widen := func(row []uint8) archsimd.Int32x8 {
		return archsimd.LoadUint8x16Slice(row).ExtendLo8ToUint32().AsInt32x8()
	}
	var r, g, b [8]int32
	x := 0
	for ; x+16 <= len(lum); x += 8 {
		yy := widen(lum[x:])
		cb := widen(cbRow[x:]).Sub(c128)
		cr := widen(crRow[x:]).Sub(c128)
		yy.Add(cr.Mul(crR).Add(half).ShiftAllRight(16)).Max(zero).Min(top).Store(&r)
		yy.Add(cb.Mul(cbG).Add(half).Add(cr.Mul(crG)).ShiftAllRight(16)).Max(zero).Min(top).Store(&g)
		yy.Add(cb.Mul(cbB).Add(half).ShiftAllRight(16)).Max(zero).Min(top).Store(&b)
		o := out[3*x : 3*x+24 : 3*x+24]
		for i := range 8 {
			o[3*i], o[3*i+1], o[3*i+2] = uint8(r[i]), uint8(g[i]), uint8(b[i])
		}
	}
	yccToRGBGeneric(out[3*x:], lum[x:], cbRow[x:], crRow[x:])
}

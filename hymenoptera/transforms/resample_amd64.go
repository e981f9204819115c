//go:build goexperiment.simd

package transforms

import (
	"simd/archsimd"
)

// AVX2 versions of the resampling passes: the same 32-bit fixed-point sums as PIL's (the multiplications are
// 32-bit, VPMULLD), eight at a time.

func init() {
	if archsimd.X86.AVX2() {
		resampleRows = resampleRowsAVX2
		resampleColumns = resampleColumnsAVX2
	}
}

// resampleColumnsAVX2 computes eight bytes of an output row at a time: the rows the kernel reads, widened to
// int32, times their weights.
func resampleColumnsAVX2(dst, src *Image, k kernel) {
	n := src.W * 3
	half := archsimd.BroadcastInt32x8(1 << (precisionBits - 1))
	zero, top := archsimd.BroadcastInt32x8(0), archsimd.BroadcastInt32x8(255)
	var weights [16]archsimd.Int32x8
	var rowsBuf [16][]uint8
	var lo, hi [8]int32
	for y := range dst.H {
		count := k.count[y]
		if count > len(weights) {
			resampleColumnsRow(dst.Row(y), src, k, y, 0)
			continue
		}
		rows := rowsBuf[:count]
		for j := range count {
			weights[j] = archsimd.BroadcastInt32x8(k.weights[y*k.taps+j])
			rows[j] = src.Row(k.first[y] + j)
		}
		out := dst.Row(y)
		i := 0
		for ; i+24 <= n; i += 16 {
			acc0, acc1 := half, half
			for j, row := range rows {
				v0 := archsimd.LoadUint8x16Slice(row[i:]).ExtendLo8ToUint32().AsInt32x8()
				v1 := archsimd.LoadUint8x16Slice(row[i+8:]).ExtendLo8ToUint32().AsInt32x8()
				acc0 = acc0.Add(v0.Mul(weights[j]))
				acc1 = acc1.Add(v1.Mul(weights[j]))
			}
			acc0.ShiftAllRight(precisionBits).Max(zero).Min(top).Store(&lo)
			acc1.ShiftAllRight(precisionBits).Max(zero).Min(top).Store(&hi)
			o := out[i : i+16 : i+16]
			for e := range 8 {
				o[e], o[8+e] = uint8(lo[e]), uint8(hi[e])
			}
		}
		resampleColumnsRow(out, src, k, y, i)
	}
}

// resampleColumnsRow is the scalar vertical pass for the bytes of output row y from i on.
func resampleColumnsRow(out []uint8, src *Image, k kernel, y, i int) {
	weights := k.weights[y*k.taps : y*k.taps+k.count[y]]
	for ; i < len(out); i++ {
		acc := int32(1) << (precisionBits - 1)
		for j, c := range weights {
			acc += int32(src.Row(k.first[y] + j)[i]) * c
		}
		out[i] = clip8(acc)
	}
}

// resampleRowsAVX2 takes the taps of an output pixel two by two: eight bytes from the first tap's pixel hold
// both pixels' RGB (lanes 0-2 and 3-5), multiplied by (w0, w0, w0, w1, w1, w1, 0, 0).
func resampleRowsAVX2(dst, src *Image, k kernel) {
	w := dst.W
	pairs := (k.taps + 1) / 2
	weights := make([]archsimd.Int32x8, w*pairs)
	for x := range w {
		ws := k.weights[x*k.taps : x*k.taps+k.count[x]]
		for p := range pairs {
			var v [8]int32
			if 2*p < len(ws) {
				v[0], v[1], v[2] = ws[2*p], ws[2*p], ws[2*p]
			}
			if 2*p+1 < len(ws) {
				v[3], v[4], v[5] = ws[2*p+1], ws[2*p+1], ws[2*p+1]
			}
			weights[x*pairs+p] = archsimd.LoadInt32x8(&v)
		}
	}
	fold := archsimd.LoadUint32x8(&[8]uint32{3, 4, 5, 3, 4, 5, 6, 7})
	half := archsimd.BroadcastInt32x8(1 << (precisionBits - 1))
	zero, top := archsimd.BroadcastInt32x8(0), archsimd.BroadcastInt32x8(255)
	for y := range src.H {
		in := src.Row(y)
		out := dst.Row(y)
		for x := range w {
			first := 3 * k.first[x]
			used := (k.count[x] + 1) / 2
			// The last load reads 16 bytes from the last pair's first pixel; near the row's end, PIL's loop.
			if first+6*(used-1)+16 > len(in) {
				resampleRowsPixel(out, in, k, x)
				continue
			}
			acc := half
			for p, wv := range weights[x*pairs : x*pairs+used] {
				v := archsimd.LoadUint8x16Slice(in[first+6*p:]).ExtendLo8ToUint32().AsInt32x8()
				acc = acc.Add(v.Mul(wv))
			}
			// Lanes 0-2 += lanes 3-5 (where half was added too: take it off), then PIL's clip8.
			acc = acc.Add(acc.Permute(fold)).Sub(half)
			rgb := acc.ShiftAllRight(precisionBits).Max(zero).Min(top).GetLo()
			o := out[3*x : 3*x+3 : 3*x+3]
			o[0], o[1], o[2] = uint8(rgb.GetElem(0)), uint8(rgb.GetElem(1)), uint8(rgb.GetElem(2))
		}
	}
}

// resampleRowsPixel is the scalar horizontal pass for output pixel x of a row.
func resampleRowsPixel(out, in []uint8, k kernel, x int) {
	first := 3 * k.first[x]
	r, g, b := int32(1)<<(precisionBits-1), int32(1)<<(precisionBits-1), int32(1)<<(precisionBits-1)
	for j, c := range k.weights[x*k.taps : x*k.taps+k.count[x]] {
		p := in[first+3*j : first+3*j+3 : first+3*j+3]
		r += int32(p[0]) * c
		g += int32(p[1]) * c
		b += int32(p[2]) * c
	}
	o := out[3*x : 3*x+3 : 3*x+3]
	o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
}

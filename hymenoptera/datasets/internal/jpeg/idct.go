package jpeg

// idct is libjpeg's accurate integer inverse DCT (jidctint.c, jpeg_idct_islow: the Loeffler-Ligtenberg-Moschytz
// algorithm with 13-bit fixed-point constants, columns then rows), which PIL's decoder (libjpeg-turbo, default
// DCT method) runs; its SIMD versions give the same bytes. It reads a dequantised block in natural order and
// writes 8×8 samples to dst, rows stride bytes apart.
//
// The arithmetic is 32-bit, as in libjpeg-turbo's SIMD code: valid data never comes near overflowing it, and
// wrapping on corrupt data makes the vectorised version (idct_amd64.go) agree with this one on any input.

const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// rangeLimit is libjpeg's post-IDCT range-limit table: index (x & 1023) for an IDCT output x gives x+128
// clamped to [0, 255] for |x| < 512 and wraps beyond, as libjpeg's does (only corrupt data gets there).
var rangeLimit [1024]uint8

func init() {
	for i := range rangeLimit {
		switch {
		case i < 128:
			rangeLimit[i] = uint8(i + 128)
		case i < 512:
			rangeLimit[i] = 255
		case i < 896:
			rangeLimit[i] = 0
		default:
			rangeLimit[i] = uint8(i - 896)
		}
	}
}

func descale(x int32, n uint) int32 { return (x + 1<<(n-1)) >> n }

// idct8 is the 1-D transform shared by both passes: in[0..7] at the given positions, results unscaled.
func idct8(i0, i1, i2, i3, i4, i5, i6, i7 int32) (o0, o1, o2, o3, o4, o5, o6, o7 int32) {
	// Even part.
	z1 := (i2 + i6) * fix0_541196100
	tmp2 := z1 - i6*fix1_847759065
	tmp3 := z1 + i2*fix0_765366865
	tmp0 := (i0 + i4) << constBits
	tmp1 := (i0 - i4) << constBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	// Odd part.
	t0, t1, t2, t3 := i7, i5, i3, i1
	z1 = t0 + t3
	z2 := t1 + t2
	z3 := t0 + t2
	z4 := t1 + t3
	z5 := (z3 + z4) * fix1_175875602
	t0 *= fix0_298631336
	t1 *= fix2_053119869
	t2 *= fix3_072711026
	t3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 *= -fix1_961570560
	z4 *= -fix0_390180644
	z3 += z5
	z4 += z5
	t0 += z1 + z3
	t1 += z2 + z4
	t2 += z2 + z3
	t3 += z1 + z4

	return tmp10 + t3, tmp11 + t2, tmp12 + t1, tmp13 + t0, tmp13 - t0, tmp12 - t1, tmp11 - t2, tmp10 - t3
}

// idctDC is idct for a block whose AC coefficients are all zero, a flat block: both passes' shortcuts, at once.
func idctDC(dc int32, dst []uint8, stride int) {
	v := rangeLimit[descale(dc<<pass1Bits, pass1Bits+3)&1023]
	for r := range 8 {
		row := dst[r*stride : r*stride+8 : r*stride+8]
		for i := range row {
			row[i] = v
		}
	}
}

// idctBlock is the IDCT in use: idct, or a vectorised equivalent where the CPU has one.
var idctBlock = idct

func idct(block *[64]int32, dst []uint8, stride int) {
	var ws [64]int32
	// Pass 1: columns, results scaled up by 2^pass1Bits.
	for c := range 8 {
		if block[8+c] == 0 && block[16+c] == 0 && block[24+c] == 0 && block[32+c] == 0 && block[40+c] == 0 &&
			block[48+c] == 0 && block[56+c] == 0 {
			dc := block[c] << pass1Bits
			for r := range 8 {
				ws[8*r+c] = dc
			}
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := idct8(block[c], block[8+c], block[16+c], block[24+c], block[32+c],
			block[40+c], block[48+c], block[56+c])
		const n = constBits - pass1Bits
		ws[c], ws[8+c], ws[16+c], ws[24+c] = descale(o0, n), descale(o1, n), descale(o2, n), descale(o3, n)
		ws[32+c], ws[40+c], ws[48+c], ws[56+c] = descale(o4, n), descale(o5, n), descale(o6, n), descale(o7, n)
	}
	// Pass 2: rows, descaled by 8 and 2^pass1Bits.
	for r := range 8 {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := rangeLimit[descale(w[0], pass1Bits+3)&1023]
			for i := range out {
				out[i] = v
			}
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := idct8(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
		const n = constBits + pass1Bits + 3
		out[0], out[1], out[2], out[3] = rangeLimit[descale(o0, n)&1023], rangeLimit[descale(o1, n)&1023],
			rangeLimit[descale(o2, n)&1023], rangeLimit[descale(o3, n)&1023]
		out[4], out[5], out[6], out[7] = rangeLimit[descale(o4, n)&1023], rangeLimit[descale(o5, n)&1023],
			rangeLimit[descale(o6, n)&1023], rangeLimit[descale(o7, n)&1023]
	}
}

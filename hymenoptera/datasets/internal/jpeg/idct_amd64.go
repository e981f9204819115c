//go:build goexperiment.simd

package jpeg

import "simd/archsimd"

// An AVX2 version of idct: the same 32-bit operations on eight columns at once (each row of the block a vector),
// a transposition, then eight rows at once.

func init() {
	if archsimd.X86.AVX2() {
		for i, c := range [...]int32{fix0_541196100, -fix1_847759065, fix0_765366865, fix1_175875602, fix0_298631336,
			fix2_053119869, fix3_072711026, fix1_501321110, -fix0_899976223, -fix2_562915447, -fix1_961570560,
			-fix0_390180644, 1 << (constBits - pass1Bits - 1), 1 << (constBits + pass1Bits + 3 - 1), 128, 1023, 255,
			640} {
			k[i] = archsimd.BroadcastInt32x8(c)
		}
		idctBlock = idctAVX2
	}
}

type vec = archsimd.Int32x8

// k holds the constants broadcast, set up once (only where AVX2 exists).
var k [18]vec

const (
	kFix0_541196100 = iota
	kNegFix1_847759065
	kFix0_765366865
	kFix1_175875602
	kFix0_298631336
	kFix2_053119869
	kFix3_072711026
	kFix1_501321110
	kNegFix0_899976223
	kNegFix2_562915447
	kNegFix1_961570560
	kNegFix0_390180644
	kRound1
	kRound2
	k128
	k1023
	k255
	k640
)

// idct8Vec is idct8 on eight lanes.
func idct8Vec(i0, i1, i2, i3, i4, i5, i6, i7 vec) (o0, o1, o2, o3, o4, o5, o6, o7 vec) {
	z1 := i2.Add(i6).Mul(k[kFix0_541196100])
	tmp2 := z1.Add(i6.Mul(k[kNegFix1_847759065]))
	tmp3 := z1.Add(i2.Mul(k[kFix0_765366865]))
	tmp0 := i0.Add(i4).ShiftAllLeft(constBits)
	tmp1 := i0.Sub(i4).ShiftAllLeft(constBits)
	tmp10, tmp13 := tmp0.Add(tmp3), tmp0.Sub(tmp3)
	tmp11, tmp12 := tmp1.Add(tmp2), tmp1.Sub(tmp2)

	t0, t1, t2, t3 := i7, i5, i3, i1
	z1 = t0.Add(t3)
	z2 := t1.Add(t2)
	z3 := t0.Add(t2)
	z4 := t1.Add(t3)
	z5 := z3.Add(z4).Mul(k[kFix1_175875602])
	t0 = t0.Mul(k[kFix0_298631336])
	t1 = t1.Mul(k[kFix2_053119869])
	t2 = t2.Mul(k[kFix3_072711026])
	t3 = t3.Mul(k[kFix1_501321110])
	z1 = z1.Mul(k[kNegFix0_899976223])
	z2 = z2.Mul(k[kNegFix2_562915447])
	z3 = z3.Mul(k[kNegFix1_961570560]).Add(z5)
	z4 = z4.Mul(k[kNegFix0_390180644]).Add(z5)
	t0 = t0.Add(z1).Add(z3)
	t1 = t1.Add(z2).Add(z4)
	t2 = t2.Add(z2).Add(z3)
	t3 = t3.Add(z1).Add(z4)

	return tmp10.Add(t3), tmp11.Add(t2), tmp12.Add(t1), tmp13.Add(t0), tmp13.Sub(t0), tmp12.Sub(t1), tmp11.Sub(t2),
		tmp10.Sub(t3)
}

// transpose returns the columns of the 8×8 matrix whose rows are r0..r7.
func transpose(r0, r1, r2, r3, r4, r5, r6, r7 vec) (c0, c1, c2, c3, c4, c5, c6, c7 vec) {
	t0, t1 := r0.InterleaveLoGrouped(r1), r0.InterleaveHiGrouped(r1)
	t2, t3 := r2.InterleaveLoGrouped(r3), r2.InterleaveHiGrouped(r3)
	t4, t5 := r4.InterleaveLoGrouped(r5), r4.InterleaveHiGrouped(r5)
	t6, t7 := r6.InterleaveLoGrouped(r7), r6.InterleaveHiGrouped(r7)
	lo := func(a, b vec) vec { return a.AsInt64x4().InterleaveLoGrouped(b.AsInt64x4()).AsInt32x8() }
	hi := func(a, b vec) vec { return a.AsInt64x4().InterleaveHiGrouped(b.AsInt64x4()).AsInt32x8() }
	u0, u1, u2, u3 := lo(t0, t2), hi(t0, t2), lo(t1, t3), hi(t1, t3)
	u4, u5, u6, u7 := lo(t4, t6), hi(t4, t6), lo(t5, t7), hi(t5, t7)
	return u0.Select128FromPair(0, 2, u4), u1.Select128FromPair(0, 2, u5), u2.Select128FromPair(0, 2, u6),
		u3.Select128FromPair(0, 2, u7), u0.Select128FromPair(1, 3, u4), u1.Select128FromPair(1, 3, u5),
		u2.Select128FromPair(1, 3, u6), u3.Select128FromPair(1, 3, u7)
}

func idctAVX2(block *[64]int32, dst []uint8, stride int) {
	row := func(r int) vec { return archsimd.LoadInt32x8((*[8]int32)(block[8*r : 8*r+8])) }
	// Pass 1: the columns, lane c of every vector being column c.
	o0, o1, o2, o3, o4, o5, o6, o7 := idct8Vec(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
	d := func(x vec) vec { return x.Add(k[kRound1]).ShiftAllRight(constBits - pass1Bits) }
	c0, c1, c2, c3, c4, c5, c6, c7 := transpose(d(o0), d(o1), d(o2), d(o3), d(o4), d(o5), d(o6), d(o7))
	// Pass 2: the rows, lane r of every vector being row r; p_k holds column k of the output.
	p := [8]vec{}
	p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7] = idct8Vec(c0, c1, c2, c3, c4, c5, c6, c7)
	var cols [8][8]int32
	for c, v := range p {
		// rangeLimit[x & 1023] without the table: t = (x+128) & 1023 is the result below 256, 255 up to 639,
		// and 0 above (the wrapped negatives).
		t := v.Add(k[kRound2]).ShiftAllRight(constBits + pass1Bits + 3).Add(k[k128]).And(k[k1023])
		t.Min(k[k255]).Masked(t.Less(k[k640])).Store(&cols[c])
	}
	for r := range 8 {
		out := dst[r*stride : r*stride+8 : r*stride+8]
		for k := range out {
			out[k] = uint8(cols[k][r])
		}
	}
}

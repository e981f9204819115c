package datasets

import (
	"image"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// Lossy WebP colour as libwebp (which PIL uses) produces it: golang.org/x/image/webp stops at the VP8 decoder's
// 4:2:0 YCbCr planes (the same as libwebp's), which are BT.601 studio range, not JFIF full range as Go's
// color.YCbCrToRGB assumes. libwebp upsamples the chroma with its "fancy" 9-3-3-1 filter over pairs of rows
// (dsp/upsampling.c) and converts with 14-bit fixed point (dsp/yuv.h); this is that.

// vp8Clip8 is libwebp's VP8Clip8: a value with 6 fractional bits to a byte.
func vp8Clip8(v int32) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func mulHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

func vp8ToRGB(out []uint8, y, u, v int32) {
	out[0] = vp8Clip8(mulHi(y, 19077) + mulHi(v, 26149) - 14234)
	out[1] = vp8Clip8(mulHi(y, 19077) - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
	out[2] = vp8Clip8(mulHi(y, 19077) + mulHi(u, 33050) - 17685)
}

// webpToRGB converts the 4:2:0 planes of a lossy WebP.
func webpToRGB(dst *transforms.Image, src *image.YCbCr) {
	w, h := dst.W, dst.H
	chroma := func(cy int) (u, v []uint8) {
		return src.Cb[cy*src.CStride : cy*src.CStride+(w+1)/2], src.Cr[cy*src.CStride : cy*src.CStride+(w+1)/2]
	}
	luma := func(y int) []uint8 { return src.Y[y*src.YStride : y*src.YStride+w] }
	// The first row, and the last of an even height, see only their own chroma row; the others come in pairs
	// (2k-1, 2k) between chroma rows k-1 and k.
	u, v := chroma(0)
	upsamplePair(dst, luma(0), nil, 0, -1, u, v, u, v)
	for y := 1; y+1 < h; y += 2 {
		tu, tv := chroma((y+1)/2 - 1)
		cu, cv := chroma((y + 1) / 2)
		upsamplePair(dst, luma(y), luma(y+1), y, y+1, tu, tv, cu, cv)
	}
	if h%2 == 0 {
		u, v := chroma((h - 1) / 2)
		upsamplePair(dst, luma(h-1), nil, h-1, -1, u, v, u, v)
	}
}

// upsamplePair is libwebp's UpsampleRgbLinePair: output rows topY (nearer the top chroma rows tu, tv) and
// bottomY (nearer cu, cv; absent when bottom is nil).
func upsamplePair(dst *transforms.Image, top, bottom []uint8, topY, bottomY int, tu, tv, cu, cv []uint8) {
	n := len(top)
	topOut := dst.Row(topY)
	var bottomOut []uint8
	if bottom != nil {
		bottomOut = dst.Row(bottomY)
	}
	// Samples are handled as u | v<<16, both computed at once as libwebp does (no carries cross).
	load := func(u, v []uint8, x int) int32 { return int32(u[x]) | int32(v[x])<<16 }
	emit := func(out []uint8, lum []uint8, x int, uv int32) {
		vp8ToRGB(out[3*x:3*x+3], int32(lum[x]), uv&0xff, uv>>16)
	}
	tl, l := load(tu, tv, 0), load(cu, cv, 0)
	emit(topOut, top, 0, (3*tl+l+0x00020002)>>2)
	if bottom != nil {
		emit(bottomOut, bottom, 0, (3*l+tl+0x00020002)>>2)
	}
	for x := 1; x <= (n-1)>>1; x++ {
		t, c := load(tu, tv, x), load(cu, cv, x)
		avg := tl + t + l + c + 0x00080008
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+c)) >> 3
		emit(topOut, top, 2*x-1, (diag12+tl)>>1)
		emit(topOut, top, 2*x, (diag03+t)>>1)
		if bottom != nil {
			emit(bottomOut, bottom, 2*x-1, (diag03+l)>>1)
			emit(bottomOut, bottom, 2*x, (diag12+c)>>1)
		}
		tl, l = t, c
	}
	if n%2 == 0 {
		emit(topOut, top, n-1, (3*tl+l+0x00020002)>>2)
		if bottom != nil {
			emit(bottomOut, bottom, n-1, (3*l+tl+0x00020002)>>2)
		}
	}
}

package jpeg

// The output stage of libjpeg(-turbo) 2.x with its defaults: chroma upsampling (jdsample.c, "fancy" triangle
// filter) and colour conversion (jdcolor.c, 16-bit fixed point).

// libjpeg's conversion tables: red = Y + crToR[Cr], green = Y + (cbToG[Cb] + crToG[Cr]) >> 16,
// blue = Y + cbToB[Cb].
var crToR, cbToB, crToG, cbToG [256]int32

// fix is libjpeg's FIX: x in 16-bit fixed point.
func fix(x float64) int32 { return int32(x*(1<<16) + 0.5) }

func init() {
	for i := range 256 {
		x := int32(i - 128)
		crToR[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbToB[i] = (fix(1.77200)*x + 1<<15) >> 16
		crToG[i] = -fix(0.71414) * x
		cbToG[i] = -fix(0.34414)*x + 1<<15
	}
}

func clampByte(v int32) uint8 { return uint8(min(max(v, 0), 255)) }

// finish inverse-transforms a progressive image's coefficients, then upsamples and converts the components.
func (d *decoder) finish() (*Image, error) {
	if d.progressive {
		var blk [64]int32
		for i := range d.comps {
			c := &d.comps[i]
			if !c.latched {
				return nil, errTruncated // a component that no scan reached
			}
			stride := c.bw * 8
			for by := range c.bh {
				for bx := range c.bw {
					coefs := c.coefs[(by*c.bw+bx)*64:][:64]
					onlyDC := true
					for k, v := range coefs {
						blk[k] = int32(v) * c.quant[k]
						onlyDC = onlyDC && (k == 0 || v == 0)
					}
					if onlyDC {
						idctDC(blk[0], c.plane[by*8*stride+bx*8:], stride)
					} else {
						idctBlock(&blk, c.plane[by*8*stride+bx*8:], stride)
					}
				}
			}
		}
	} else if !d.sequentialDone() {
		return nil, errTruncated
	}
	img := &Image{W: d.w, H: d.h}
	switch len(d.comps) {
	case 1:
		img.Model = Gray
	case 3:
		img.Model = RGB
	default:
		img.Model = CMYK
	}
	nc := len(d.comps)
	img.Pix = make([]uint8, d.w*d.h*nc)
	ups := make([]upsampler, nc)
	rows := make([][]uint8, nc)
	for i := range d.comps {
		ups[i] = d.upsamplerOf(&d.comps[i])
	}
	transform := d.transform()
	for y := range d.h {
		for i := range ups {
			rows[i] = ups[i].row(y)
		}
		out := img.Pix[y*d.w*nc : (y+1)*d.w*nc]
		switch transform {
		case none:
			for x := range d.w {
				for i := range nc {
					out[x*nc+i] = rows[i][x]
				}
			}
		case ycc:
			yccToRGB(out[:3*d.w], rows[0][:d.w], rows[1][:d.w], rows[2][:d.w])
		case ycck:
			for x := range d.w {
				yy, cb, cr := int32(rows[0][x]), rows[1][x], rows[2][x]
				o := out[4*x : 4*x+4 : 4*x+4]
				o[0] = clampByte(255 - (yy + crToR[cr]))
				o[1] = clampByte(255 - (yy + (cbToG[cb]+crToG[cr])>>16))
				o[2] = clampByte(255 - (yy + cbToB[cb]))
				o[3] = rows[3][x]
			}
		}
	}
	return img, nil
}

// yccToRGB converts a row, with the portable yccToRGBGeneric or a vectorised equivalent (color_amd64.go).
var yccToRGB = yccToRGBGeneric

func yccToRGBGeneric(out, lum, cbRow, crRow []uint8) {
	for x, l := range lum {
		yy, cb, cr := int32(l), cbRow[x], crRow[x]
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0] = clampByte(yy + crToR[cr])
		o[1] = clampByte(yy + (cbToG[cb]+crToG[cr])>>16)
		o[2] = clampByte(yy + cbToB[cb])
	}
}

type transform int

const (
	none transform = iota
	ycc
	ycck
)

// transform is libjpeg's guess of the stored colour space (default_decompress_parms): JFIF means YCbCr; else an
// Adobe marker tells; else component ids 'R','G','B' mean RGB; 4 components are CMYK unless Adobe says YCCK.
func (d *decoder) transform() transform {
	switch len(d.comps) {
	case 3:
		switch {
		case d.jfif:
			return ycc
		case d.adobe:
			if d.adobeXform == 0 {
				return none
			}
			return ycc
		case d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B':
			return none
		}
		return ycc
	case 4:
		if d.adobe && d.adobeXform != 0 {
			return ycck
		}
	}
	return none
}

// upsampler gives the rows of a component at full resolution.
type upsampler struct {
	plane     []uint8
	stride    int
	hs, vs    int // expansion factors
	w, cw, ch int // image width; the component's downsampled width and height
	out       []uint8
	sums      []int32
	fancyH    bool
	fancyV    bool
}

func (d *decoder) upsamplerOf(c *component) upsampler {
	u := upsampler{plane: c.plane, stride: c.bw * 8, hs: d.hmax / c.h, vs: d.vmax / c.v, w: d.w,
		cw: ceilDiv(d.w*c.h, d.hmax), ch: ceilDiv(d.h*c.v, d.vmax)}
	// libjpeg's choice (jinit_upsampler): the triangle filter for 2× horizontally (rows of more than 2 samples),
	// vertically, or both; plain replication otherwise.
	u.fancyH = u.hs == 2 && u.cw > 2
	u.fancyV = u.vs == 2 && (u.hs == 1 || u.fancyH)
	u.out = make([]uint8, u.cw*u.hs)
	u.sums = make([]int32, u.cw)
	return u
}

// row returns image row y of the component: the plane's own row when it is not subsampled.
func (u *upsampler) row(y int) []uint8 {
	cy := y / u.vs
	cur := u.plane[cy*u.stride : cy*u.stride+u.cw]
	out := u.out
	switch {
	case u.hs == 1 && u.vs == 1:
		return cur
	case !u.fancyH && !u.fancyV:
		for x := range out {
			out[x] = cur[x/u.hs]
		}
	case !u.fancyV: // h2v1_fancy_upsample: 3/4 nearest + 1/4 next nearest sample, edges replicated
		for cx, c := range cur {
			c3 := 3 * int32(c)
			out[2*cx] = uint8((c3 + int32(cur[max(cx-1, 0)]) + 1) >> 2)
			out[2*cx+1] = uint8((c3 + int32(cur[min(cx+1, u.cw-1)]) + 2) >> 2)
		}
	default:
		// The next nearest row is the one above for even rows, below for odd ones; the first and last rows are
		// replicated past the edges (libjpeg's context rows).
		ny, bias := cy-1, int32(1)
		if y%2 == 1 {
			ny, bias = cy+1, 2
		}
		ny = min(max(ny, 0), u.ch-1)
		next := u.plane[ny*u.stride : ny*u.stride+u.cw]
		if u.hs == 1 { // h1v2_fancy_upsample
			for x, c := range cur {
				out[x] = uint8((3*int32(c) + int32(next[x]) + bias) >> 2)
			}
			break
		}
		// h2v2_fancy_upsample: column sums of the two rows, then the horizontal triangle.
		sums := u.sums
		for cx, c := range cur {
			sums[cx] = 3*int32(c) + int32(next[cx])
		}
		for cx, s := range sums {
			s3 := 3 * s
			out[2*cx] = uint8((s3 + sums[max(cx-1, 0)] + 8) >> 4)
			out[2*cx+1] = uint8((s3 + sums[min(cx+1, u.cw-1)] + 7) >> 4)
		}
	}
	return out
}

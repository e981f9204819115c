package datasets

import (
	"image"
	"image/color"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// toRGB converts an image from Go's decoders (PNG, BMP, TIFF, WebP, GIF) to 8-bit RGB the way PIL's
// Image.convert("RGB") does after torchvision's pil_loader opens a file, working on the pixel slices of the types
// that the decoders return.
func toRGB(src image.Image) *transforms.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := transforms.NewImage(w, h)
	switch src := src.(type) {
	case *image.YCbCr: // lossy WebP (JPEGs have their own decoder)
		webpToRGB(dst, src)
	case *image.NYCbCrA: // lossy WebP with alpha, which PIL drops
		webpToRGB(dst, &src.YCbCr)
	case *image.Gray:
		grayToRGB(dst, src.Pix, src.Stride, 1)
	case *image.Gray16:
		// PIL clips a 16-bit grayscale value ("I;16") to 255 when converting to RGB, which saturates nearly every
		// pixel; we keep the high byte instead, as PIL does for 16-bit RGB.
		grayToRGB(dst, src.Pix, src.Stride, 2)
	case *image.CMYK:
		for y := range h {
			in := src.Pix[y*src.Stride : y*src.Stride+4*w]
			out := dst.Row(y)
			for x := range w {
				c, m, yy, k := in[4*x], in[4*x+1], in[4*x+2], in[4*x+3]
				out[3*x], out[3*x+1], out[3*x+2] = cmykChannel(c, k), cmykChannel(m, k), cmykChannel(yy, k)
			}
		}
	case *image.RGBA:
		// Premultiplied: opaque from JPEG and PNG, maybe translucent from TIFF's associated alpha, which PIL
		// un-premultiplies on loading (its unpackRGBa) before dropping the alpha.
		for y := range h {
			in := src.Pix[y*src.Stride : y*src.Stride+4*w]
			out := dst.Row(y)
			for x := range w {
				p := in[4*x : 4*x+4 : 4*x+4]
				out[3*x], out[3*x+1], out[3*x+2] = unpremultiply(p[0], p[3]), unpremultiply(p[1], p[3]), unpremultiply(p[2], p[3])
			}
		}
	case *image.NRGBA:
		// PIL drops the alpha of an RGBA image without compositing it onto a background.
		dropAlpha(dst, src.Pix, src.Stride, 1)
	case *image.NRGBA64:
		dropAlpha(dst, src.Pix, src.Stride, 2)
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			in := src.Pix[y*src.Stride : y*src.Stride+w]
			out := dst.Row(y)
			for x, i := range in {
				copy(out[3*x:3*x+3], lut[i][:])
			}
		}
	default:
		// Other types (none of the decoders we use returns one for the supported formats) go through the
		// generic, slower colour model.
		for y := range h {
			out := dst.Row(y)
			for x := range w {
				n := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				out[3*x], out[3*x+1], out[3*x+2] = n.R, n.G, n.B
			}
		}
	}
	return dst
}

// cmykChannel is PIL's cmyk2rgb for one channel: (255-k) - colour·(255-k)/255, the division rounded as PIL's
// MULDIV255 does.
func cmykChannel(c, k uint8) uint8 {
	nk := 255 - int(k)
	t := int(c)*nk + 128
	return uint8(nk - ((t>>8)+t)>>8)
}

func unpremultiply(c, a uint8) uint8 {
	switch a {
	case 255:
		return c
	case 0:
		return 0
	}
	return uint8(min(int(c)*255/int(a), 255))
}

// grayToRGB copies grey pixels of bytesPerSample bytes (big-endian: the first byte is the high one) into all three
// channels of dst.
func grayToRGB(dst *transforms.Image, pix []uint8, stride, bytesPerSample int) {
	for y := range dst.H {
		in := pix[y*stride : y*stride+dst.W*bytesPerSample]
		out := dst.Row(y)
		for x := range dst.W {
			v := in[x*bytesPerSample]
			out[3*x], out[3*x+1], out[3*x+2] = v, v, v
		}
	}
}

// dropAlpha copies the colour of 4-channel pixels of bytesPerChannel bytes (big-endian, so the first byte is the
// high one, which is PIL's 16-to-8-bit conversion) into dst.
func dropAlpha(dst *transforms.Image, pix []uint8, stride, bytesPerChannel int) {
	step := 4 * bytesPerChannel
	for y := range dst.H {
		in := pix[y*stride : y*stride+dst.W*step]
		out := dst.Row(y)
		for x := range dst.W {
			p := in[x*step:]
			out[3*x], out[3*x+1], out[3*x+2] = p[0], p[bytesPerChannel], p[2*bytesPerChannel]
		}
	}
}

package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets/internal/jpeg"
	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// maxPixels is PIL's decompression-bomb limit (twice Image.MAX_IMAGE_PIXELS), past which PIL refuses to open an
// image: a few bytes of header must not make us allocate gigabytes.
const maxPixels = 2 * 89478485

func checkSize(w, h int) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("empty image (%d×%d)", w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("image of %d×%d pixels exceeds the limit of %d pixels", w, h, maxPixels)
	}
	return nil
}

// decoders by the magic bytes that open their files: like PIL, we go by content, not by file name.
var decoders = []struct {
	magic  string
	decode func(io.Reader) (image.Image, error)
	config func(io.Reader) (image.Config, error)
}{
	{"\x89PNG\r\n\x1a\n", png.Decode, png.DecodeConfig},
	{"BM", bmp.Decode, bmp.DecodeConfig},
	{"II*\x00", tiff.Decode, tiff.DecodeConfig},
	{"MM\x00*", tiff.Decode, tiff.DecodeConfig},
	{"RIFF????WEBP", webp.Decode, webp.DecodeConfig},
	{"GIF8", gif.Decode, gif.DecodeConfig},
}

func hasMagic(data []byte, magic string) bool {
	if len(data) < len(magic) {
		return false
	}
	for i := range len(magic) {
		if magic[i] != '?' && magic[i] != data[i] {
			return false
		}
	}
	return true
}

// DecodeImage decodes the bytes of an image file to 8-bit RGB, with the result PIL's Image.open(...).convert("RGB")
// gives (torchvision's pil_loader): JPEG (baseline, progressive, greyscale, CMYK/YCCK), PNG (any bit depth,
// palette, alpha), BMP, TIFF, WebP, PGM/PPM and GIF (its first frame). Alpha is dropped without compositing, as
// PIL does. The result is PIL's, byte for byte (JPEG: see internal/jpeg; lossy WebP: webp.go), except for 16-bit
// greyscale (see toRGB) and the transparent colour of a GIF, which Go's decoder does not keep.
func DecodeImage(data []byte) (img *transforms.Image, err error) {
	defer func() {
		// A malformed file must give an error, even where a third-party decoder panics on it.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("malformed image: decoder panicked: %v", r)
		}
	}()
	if hasMagic(data, "\xff\xd8") {
		defer reserveDecode(jpegSize(data))()
		return decodeJPEG(data)
	}
	if hasMagic(data, "P") && len(data) >= 2 && data[1] >= '1' && data[1] <= '6' {
		return decodeNetpbm(data)
	}
	for _, d := range decoders {
		if !hasMagic(data, d.magic) {
			continue
		}
		cfg, err := d.config(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, err
		}
		defer reserveDecode(cfg.Width, cfg.Height)()
		decoded, err := d.decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		// The image decoded may differ from the header's (a GIF's first frame is a part of its screen).
		b := decoded.Bounds()
		if err := checkSize(b.Dx(), b.Dy()); err != nil {
			return nil, err
		}
		return toRGB(decoded), nil
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	return nil, fmt.Errorf("unknown image format (the file starts with %q)", data[:min(len(data), 8)])
}

// LoadImage reads and decodes the image file at path (see DecodeImage). Errors name the file.
func LoadImage(path string) (*transforms.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	img, err := DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("datasets: cannot decode %s: %w", path, err)
	}
	return img, nil
}

// decodeJPEG converts the internal decoder's output as PIL converts libjpeg's: greyscale replicated, CMYK read
// as Adobe's inverted CMYK ("CMYK;I", which PIL assumes for every CMYK JPEG) then converted as PIL's cmyk2rgb.
func decodeJPEG(data []byte) (*transforms.Image, error) {
	decoded, err := jpeg.Decode(data, maxPixels)
	if err != nil {
		return nil, err
	}
	w, h, pix := decoded.W, decoded.H, decoded.Pix
	switch decoded.Model {
	case jpeg.RGB:
		return &transforms.Image{Pix: pix, Stride: 3 * w, W: w, H: h}, nil
	case jpeg.Gray:
		img := transforms.NewImage(w, h)
		for i, v := range pix {
			img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = v, v, v
		}
		return img, nil
	}
	img := transforms.NewImage(w, h)
	for i := range w * h {
		p := pix[4*i : 4*i+4 : 4*i+4]
		k := 255 - p[3]
		o := img.Pix[3*i : 3*i+3 : 3*i+3]
		o[0], o[1], o[2] = cmykChannel(255-p[0], k), cmykChannel(255-p[1], k), cmykChannel(255-p[2], k)
	}
	return img, nil
}

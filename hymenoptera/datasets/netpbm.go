package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hymenoptera-go/tutorial/hymenoptera/transforms"
)

// decodeNetpbm decodes the greyscale and colour Netpbm formats that torchvision's .pgm and .ppm extensions
// name: P2 and P3 (plain, decimal text) and P5 and P6 (raw bytes, big-endian 16-bit samples when maxval > 255).
// Samples scale to 8 bits as PIL's PPM decoders scale them, round(v/maxval·255) (ties to even); PIL saturates
// greyscale with maxval > 255 when converting to RGB, we scale it like colour.
func decodeNetpbm(data []byte) (*transforms.Image, error) {
	p := netpbmParser{data: data}
	magic := string(data[:2])
	channels := map[string]int{"P2": 1, "P3": 3, "P5": 1, "P6": 3}[magic]
	if channels == 0 {
		return nil, fmt.Errorf("netpbm: %q images (bitmaps) are not supported", magic)
	}
	p.pos = 2
	var header [3]int
	for i, name := range []string{"width", "height", "maxval"} {
		v, err := p.headerNumber(name)
		if err != nil {
			return nil, err
		}
		header[i] = v
	}
	w, h, maxval := header[0], header[1], header[2]
	if err := checkSize(w, h); err != nil {
		return nil, fmt.Errorf("netpbm: %w", err)
	}
	if maxval < 1 || maxval > 65535 {
		return nil, fmt.Errorf("netpbm: maxval %d outside 1..65535", maxval)
	}
	defer reserveDecode(w, h)()
	scale := make([]uint8, maxval+1)
	for v := range scale {
		scale[v] = uint8(math.RoundToEven(float64(v) / float64(maxval) * 255))
	}
	n := w * h * channels
	samples := make([]uint8, n)
	if magic == "P5" || magic == "P6" {
		// A single whitespace character separates the header from the raster.
		p.pos++
		raster := p.data[min(p.pos, len(p.data)):]
		bytesPerSample := 1
		if maxval > 255 {
			bytesPerSample = 2
		}
		if len(raster) < n*bytesPerSample {
			return nil, fmt.Errorf("netpbm: truncated raster: %d bytes, %d×%d×%d samples of %d bytes need %d",
				len(raster), w, h, channels, bytesPerSample, n*bytesPerSample)
		}
		for i := range samples {
			v := int(raster[i*bytesPerSample])
			if bytesPerSample == 2 {
				v = v<<8 | int(raster[2*i+1])
			}
			if v > maxval {
				return nil, fmt.Errorf("netpbm: sample %d exceeds maxval %d", v, maxval)
			}
			samples[i] = scale[v]
		}
	} else {
		for i := range samples {
			v, err := p.number()
			if err != nil {
				return nil, fmt.Errorf("netpbm: sample %d of %d: %w", i, n, err)
			}
			if v > maxval {
				return nil, fmt.Errorf("netpbm: sample %d exceeds maxval %d", v, maxval)
			}
			samples[i] = scale[v]
		}
	}
	img := transforms.NewImage(w, h)
	if channels == 3 {
		copy(img.Pix, samples)
		return img, nil
	}
	for i, v := range samples {
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = v, v, v
	}
	return img, nil
}

type netpbmParser struct {
	data []byte
	pos  int
}

func (p *netpbmParser) headerNumber(name string) (int, error) {
	v, err := p.number()
	if err != nil {
		return 0, fmt.Errorf("netpbm: header %s: %w", name, err)
	}
	return v, nil
}

// number skips whitespace and comments (# to the end of the line), then reads a decimal number.
func (p *netpbmParser) number() (int, error) {
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '#' {
			end := bytes.IndexAny(p.data[p.pos:], "\r\n")
			if end < 0 {
				p.pos = len(p.data)
				break
			}
			p.pos += end
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
			break
		}
		p.pos++
	}
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	if start == p.pos {
		if p.pos == len(p.data) {
			return 0, errors.New("unexpected end of file")
		}
		return 0, fmt.Errorf("expected a number, found %q", p.data[p.pos])
	}
	v, err := strconv.Atoi(string(p.data[start:p.pos]))
	if err != nil || v > 1<<20 {
		return 0, fmt.Errorf("number %q too large", p.data[start:p.pos])
	}
	return v, nil
}

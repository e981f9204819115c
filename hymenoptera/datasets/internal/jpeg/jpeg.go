// Package jpeg decodes JPEG files to the bytes libjpeg-turbo gives PIL, so that images decode in Go as they do in
// torchvision: baseline and progressive Huffman-coded JPEGs, 8-bit, greyscale, YCbCr, RGB, CMYK and YCCK, any
// integral chroma subsampling, restart intervals.
//
// Everything libjpeg does with its default settings is reproduced: the accurate integer IDCT (idct.go), the "fancy"
// triangle-filter chroma upsampling and the fixed-point YCbCr→RGB conversion (color.go), so the output equals
// libjpeg-turbo's byte for byte, where Go's image/jpeg differs by up to 3 levels. Arithmetic coding, lossless and
// hierarchical JPEG and 12-bit samples are refused, as they are by PIL's usual libjpeg build. Not reproduced:
// libjpeg's block smoothing of progressive files whose scans stop before full precision (rare: encoders write
// every scan), and what libjpeg makes of corrupt data, where it warns and goes on.
package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Model is the colour model of a decoded image, as libjpeg outputs it to PIL.
type Model int

const (
	Gray Model = iota + 1 // 1 byte a pixel
	RGB                   // 3 bytes a pixel: YCbCr converted, or stored RGB
	// CMYK is 4 bytes a pixel, as stored (Adobe's convention is inverted: 255 means no ink); YCCK files are
	// converted to this.
	CMYK
)

// Image is a decoded image, its pixels interleaved, rows W·Channels() bytes apart.
type Image struct {
	W, H  int
	Model Model
	Pix   []uint8
}

// Channels is the number of bytes a pixel.
func (m Model) Channels() int {
	switch m {
	case Gray:
		return 1
	case RGB:
		return 3
	}
	return 4
}

// Markers.
const (
	sof0  = 0xC0 // baseline
	sof1  = 0xC1 // extended sequential, Huffman
	sof2  = 0xC2 // progressive, Huffman
	dht   = 0xC4
	rst0  = 0xD0
	rst7  = 0xD7
	soi   = 0xD8
	eoi   = 0xD9
	sos   = 0xDA
	dqt   = 0xDB
	dri   = 0xDD
	app14 = 0xEE
)

var errTruncated = errors.New("truncated JPEG data")

// unzigzag[k] is the natural-order index of the k-th coefficient in zigzag order.
var unzigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     int // quantisation table
	bw, bh int // blocks per row and column in the MCU-padded frame
	// Blocks that hold image data (a non-interleaved scan codes only these): ceil(downsampled size / 8).
	usedW, usedH int
	plane        []uint8   // bw·8 × bh·8 samples
	coefs        []int16   // progressive: every block's quantised coefficients, natural order
	quant        [64]int32 // natural order, latched at the component's first scan as libjpeg does
	latched      bool
	scanned      bool
	dcPred       int32
	dcTable      int
	acTable      int
}

type decoder struct {
	data         []byte
	maxPixels    int64
	w, h         int
	progressive  bool
	comps        []component
	hmax, vmax   int
	mcusX, mcusY int
	quant        [4][64]int32 // zigzag order
	haveQuant    [4]bool
	dcTables     [4]huffman
	acTables     [4]huffman
	haveDC       [4]bool
	haveAC       [4]bool
	restartEvery int
	adobe        bool
	adobeXform   uint8
	jfif         bool
	eobRun       int
	block        [64]int32
}

// Decode decodes a JPEG file, refusing (before allocating anything for it) an image of more than maxPixels pixels.
func Decode(data []byte, maxPixels int64) (*Image, error) {
	d := &decoder{data: data, maxPixels: maxPixels}
	if len(data) < 2 || data[0] != 0xFF || data[1] != soi {
		return nil, errors.New("not a JPEG file")
	}
	pos := 2
	for {
		marker, segment, next, err := d.nextSegment(pos)
		if err != nil {
			// Without EOI a progressive file is truncated: PIL gives up on it, libjpeg needing the rest.
			return nil, err
		}
		switch {
		case marker == eoi:
			if d.comps == nil {
				return nil, errors.New("JPEG file has no image")
			}
			return d.finish()
		case marker == sof0 || marker == sof1 || marker == sof2:
			if d.comps != nil {
				return nil, errors.New("JPEG file has several frames")
			}
			d.progressive = marker == sof2
			err = d.parseFrame(segment)
		case marker == 0xC3 || marker >= 0xC5 && marker <= 0xCF && marker != 0xC8 && marker != 0xCC:
			return nil, fmt.Errorf("unsupported JPEG process (SOF%d marker): only baseline, extended and progressive "+
				"Huffman-coded JPEGs are supported", marker-0xC0)
		case marker == dht:
			err = d.parseHuffman(segment)
		case marker == dqt:
			err = d.parseQuant(segment)
		case marker == dri:
			if len(segment) != 2 {
				return nil, errors.New("invalid DRI segment")
			}
			d.restartEvery = int(binary.BigEndian.Uint16(segment))
		case marker == 0xE0:
			if len(segment) >= 5 && string(segment[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case marker == app14:
			if len(segment) >= 12 && string(segment[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, segment[11]
			}
		case marker == sos:
			if d.comps == nil {
				return nil, errors.New("JPEG scan before its frame header")
			}
			next, err = d.scan(segment, next)
			if err == nil && !d.progressive && d.sequentialDone() {
				return d.finish() // what follows the last scan does not matter, as for libjpeg
			}
		}
		if err != nil {
			return nil, err
		}
		pos = next
	}
}

// nextSegment reads the marker at pos (skipping fill bytes) and its segment. next is the position after it.
func (d *decoder) nextSegment(pos int) (marker byte, segment []byte, next int, err error) {
	for pos < len(d.data) && d.data[pos] != 0xFF {
		pos++ // garbage between segments: libjpeg skips it with a warning
	}
	for pos < len(d.data) && d.data[pos] == 0xFF {
		pos++
	}
	if pos >= len(d.data) {
		return 0, nil, 0, errTruncated
	}
	marker = d.data[pos]
	pos++
	if marker == eoi || marker == soi || marker >= rst0 && marker <= rst7 || marker == 0x01 {
		return marker, nil, pos, nil
	}
	if pos+2 > len(d.data) {
		return 0, nil, 0, errTruncated
	}
	n := int(binary.BigEndian.Uint16(d.data[pos:]))
	if n < 2 {
		return 0, nil, 0, fmt.Errorf("invalid length %d of JPEG segment %#x", n, marker)
	}
	if pos+n > len(d.data) {
		return 0, nil, 0, errTruncated
	}
	return marker, d.data[pos+2 : pos+n], pos + n, nil
}

func (d *decoder) parseFrame(s []byte) error {
	if len(s) < 6 {
		return errors.New("invalid SOF segment")
	}
	if s[0] != 8 {
		return fmt.Errorf("unsupported JPEG sample precision %d bits", s[0])
	}
	d.h, d.w = int(binary.BigEndian.Uint16(s[1:])), int(binary.BigEndian.Uint16(s[3:]))
	n := int(s[5])
	if d.w == 0 || d.h == 0 {
		return fmt.Errorf("unsupported JPEG size %d×%d", d.w, d.h)
	}
	if int64(d.w)*int64(d.h) > d.maxPixels {
		return fmt.Errorf("JPEG image of %d×%d pixels exceeds the limit of %d pixels", d.w, d.h, d.maxPixels)
	}
	if n != 1 && n != 3 && n != 4 {
		return fmt.Errorf("unsupported JPEG with %d components", n)
	}
	if len(s) != 6+3*n {
		return errors.New("invalid SOF segment")
	}
	d.comps = make([]component, n)
	d.hmax, d.vmax = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		c.id, c.h, c.v, c.tq = s[6+3*i], int(s[7+3*i]>>4), int(s[7+3*i]&15), int(s[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return errors.New("invalid JPEG component parameters")
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	if n == 1 {
		// A single component is never interleaved: its MCU is one block, whatever its sampling factors say.
		d.comps[0].h, d.comps[0].v, d.hmax, d.vmax = 1, 1, 1, 1
	}
	d.mcusX, d.mcusY = ceilDiv(d.w, 8*d.hmax), ceilDiv(d.h, 8*d.vmax)
	for i := range d.comps {
		c := &d.comps[i]
		if d.hmax%c.h != 0 || d.vmax%c.v != 0 {
			return errors.New("unsupported JPEG with fractional chroma subsampling")
		}
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
		c.usedW, c.usedH = ceilDiv(ceilDiv(d.w*c.h, d.hmax), 8), ceilDiv(ceilDiv(d.h*c.v, d.vmax), 8)
		c.plane = make([]uint8, c.bw*8*c.bh*8)
		if d.progressive {
			c.coefs = make([]int16, c.bw*c.bh*64)
		}
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (d *decoder) parseQuant(s []byte) error {
	for len(s) > 0 {
		precision, id := s[0]>>4, s[0]&15
		size := 64 * (1 + int(precision))
		if id > 3 || precision > 1 || len(s) < 1+size {
			return errors.New("invalid DQT segment")
		}
		for k := range 64 {
			if precision == 0 {
				d.quant[id][k] = int32(s[1+k])
			} else {
				d.quant[id][k] = int32(binary.BigEndian.Uint16(s[1+2*k:]))
			}
		}
		d.haveQuant[id] = true
		s = s[1+size:]
	}
	return nil
}

func (d *decoder) parseHuffman(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return errors.New("invalid DHT segment")
		}
		class, id := s[0]>>4, s[0]&15
		if class > 1 || id > 3 {
			return errors.New("invalid DHT segment")
		}
		var counts [16]uint8
		copy(counts[:], s[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total > 256 || len(s) < 17+total {
			return errors.New("invalid DHT segment")
		}
		symbols := append([]uint8(nil), s[17:17+total]...)
		table, have := &d.dcTables[id], &d.haveDC[id]
		if class == 1 {
			table, have = &d.acTables[id], &d.haveAC[id]
		}
		*table = huffman{}
		if err := table.build(counts, symbols); err != nil {
			return err
		}
		*have = true
		s = s[17+total:]
	}
	return nil
}

// sequentialDone reports whether every component of a sequential JPEG has had its scan.
func (d *decoder) sequentialDone() bool {
	for i := range d.comps {
		if !d.comps[i].scanned {
			return false
		}
	}
	return true
}

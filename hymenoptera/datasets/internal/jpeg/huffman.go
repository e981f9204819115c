package jpeg

import (
	"encoding/binary"
	"errors"
)

// lookupBits is the length of the codes that a huffman table decodes in one lookup; longer codes (rare: the
// tables put frequent symbols on short codes) take the canonical-code walk.
const lookupBits = 9

// huffman is a decoding table of a DHT segment.
type huffman struct {
	// lookup[next lookupBits bits] = code length << 8 | symbol, or 0 when the code is longer.
	lookup [1 << lookupBits]uint16
	// For the canonical walk: the largest code of each length (-1 if none), and where its symbols start.
	maxCode [17]int32
	valPtr  [17]int32
	minCode [17]int32
	symbols []uint8
	// fastAC[next lookupBits bits], for AC tables, decodes a whole coefficient when its code and magnitude bits
	// fit in lookupBits: value << 16 | run << 8 | bits used; 0 otherwise.
	fastAC [1 << lookupBits]int32
}

var errBadTable = errors.New("invalid Huffman table")

func (h *huffman) build(counts [16]uint8, symbols []uint8) error {
	h.symbols = symbols
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		if code+n >= 1<<l {
			return errBadTable // more codes than this length has room for (all ones is reserved)
		}
		h.valPtr[l], h.minCode[l], h.maxCode[l] = k, code, code+n-1
		if n == 0 {
			h.maxCode[l] = -1
		}
		if l <= lookupBits {
			shift := lookupBits - l
			for i := range n {
				for j := range int32(1) << shift {
					h.lookup[(code+i)<<shift|j] = uint16(l)<<8 | uint16(symbols[k+i])
				}
			}
		}
		code = (code + n) << 1
		k += n
	}
	for peek, e := range h.lookup {
		l, rs := uint(e>>8), uint8(e)
		run, size := int32(rs>>4), uint(rs&15)
		if e == 0 || size == 0 || l+size > lookupBits {
			continue
		}
		magnitude := int32(peek>>(lookupBits-l-size)) & (1<<size - 1)
		if magnitude < 1<<(size-1) {
			magnitude += -1<<size + 1
		}
		h.fastAC[peek] = magnitude<<16 | run<<8 | int32(l+size)
	}
	return nil
}

// bitReader reads the entropy-coded data of a scan: bytes with 0xFF 0x00 stuffing, up to a marker. Past a marker
// it supplies zero bits, as libjpeg does (corrupt data decodes to something, as it does in PIL); past the end of
// the file it supplies zeros too, but counts them, so that a truncated file is reported when they get used.
type bitReader struct {
	data   []byte
	pos    int    // next byte to read
	acc    uint64 // bits, most significant first
	n      uint   // number of valid bits in acc
	marker bool   // reached a marker at pos
	eof    uint   // number of the last bits in acc that come from past the end of the data
}

func (b *bitReader) fill() {
	// Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker), so whole bytes go in at once.
	if !b.marker && b.pos+8 <= len(b.data) {
		w := binary.BigEndian.Uint64(b.data[b.pos:])
		if w&(^w-0x0101010101010101)&0x8080808080808080 == 0 { // no byte of ^w is zero: no 0xFF in w
			k := (64 - b.n) / 8
			w >>= b.n
			if rest := 64 - b.n - 8*k; rest > 0 {
				w &^= 1<<rest - 1
			}
			b.acc |= w
			b.n += 8 * k
			b.pos += int(k)
			return
		}
	}
	for b.n <= 56 {
		var c byte
		switch {
		case b.marker:
		case b.pos >= len(b.data):
			b.eof += 8
		default:
			c = b.data[b.pos]
			if c != 0xFF {
				b.pos++
				break
			}
			if b.pos+1 < len(b.data) && b.data[b.pos+1] == 0 {
				b.pos += 2
				break
			}
			if b.pos+1 >= len(b.data) {
				b.pos = len(b.data)
				b.eof += 8
			} else {
				b.marker = true
			}
			c = 0
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// truncated reports whether decoding used bits from past the end of the data.
func (b *bitReader) truncated() bool { return b.n < b.eof }

func (b *bitReader) bits(n uint) int32 {
	if b.n < n {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.acc <<= n
	b.n -= n
	return v
}

func (b *bitReader) bit() bool {
	if b.n < 1 {
		b.fill()
	}
	v := b.acc>>63 != 0
	b.acc <<= 1
	b.n--
	return v
}

// receiveExtend reads an s-bit magnitude and extends it to a signed value (the JPEG EXTEND procedure).
func (b *bitReader) receiveExtend(s uint8) int32 {
	if s == 0 {
		return 0
	}
	v := b.bits(uint(s))
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

var errBadCode = errors.New("corrupt JPEG data: invalid Huffman code")

// decode reads one Huffman-coded symbol.
func (b *bitReader) decode(h *huffman) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := h.lookup[b.acc>>(64-lookupBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return uint8(e), nil
	}
	return b.decodeLong(h)
}

// decodeLong reads a symbol whose code is longer than lookupBits.
func (b *bitReader) decodeLong(h *huffman) (uint8, error) {
	for l := lookupBits + 1; l <= 16; l++ {
		code := int32(b.acc >> (64 - l))
		if code <= h.maxCode[l] {
			i := h.valPtr[l] + code - h.minCode[l]
			if i < 0 || int(i) >= len(h.symbols) {
				return 0, errBadCode
			}
			b.acc <<= l
			b.n -= uint(l)
			return h.symbols[i], nil
		}
	}
	return 0, errBadCode
}

// restart skips to the restart marker that must come next and resets the reader after it.
func (b *bitReader) restart() error {
	pos := b.pos
	for pos+1 < len(b.data) && !(b.data[pos] == 0xFF && b.data[pos+1] != 0 && b.data[pos+1] != 0xFF) {
		pos++
	}
	if pos+1 >= len(b.data) {
		return errTruncated
	}
	if m := b.data[pos+1]; m < rst0 || m > rst7 {
		return errors.New("corrupt JPEG data: missing restart marker")
	}
	*b = bitReader{data: b.data, pos: pos + 2}
	return nil
}

// end returns the position after the entropy-coded data: that of the next marker.
func (b *bitReader) end() int {
	pos := b.pos
	for pos+1 < len(b.data) && !(b.data[pos] == 0xFF && b.data[pos+1] != 0 && b.data[pos+1] != 0xFF) {
		pos++
	}
	return pos
}

package jpeg

import (
	"errors"
	"fmt"
)

// scan decodes the scan whose SOS header is s and whose entropy-coded data starts at pos, as libjpeg's jdhuff.c
// (sequential) and jdphuff.c (progressive) do, and returns the position of the marker after it.
func (d *decoder) scan(s []byte, pos int) (int, error) {
	if len(s) < 1 {
		return 0, errors.New("invalid SOS segment")
	}
	n := int(s[0])
	if n < 1 || n > len(d.comps) || len(s) != 4+2*n {
		return 0, errors.New("invalid SOS segment")
	}
	comps := make([]*component, n)
	for i := range n {
		id, tables := s[1+2*i], s[2+2*i]
		for j := range d.comps {
			if d.comps[j].id == id {
				comps[i] = &d.comps[j]
			}
		}
		if comps[i] == nil {
			return 0, fmt.Errorf("JPEG scan names unknown component %d", id)
		}
		comps[i].dcTable, comps[i].acTable = int(tables>>4), int(tables&15)
		if comps[i].dcTable > 3 || comps[i].acTable > 3 {
			return 0, errors.New("invalid SOS segment")
		}
	}
	ss, se, ah, al := int(s[1+2*n]), int(s[2+2*n]), uint(s[3+2*n]>>4), uint(s[3+2*n]&15)
	if d.progressive {
		if ss > se || se > 63 || ss == 0 && se != 0 || ss > 0 && n != 1 || al > 13 || ah > 13 {
			return 0, errors.New("invalid progressive JPEG scan parameters")
		}
	} else if ss != 0 || se != 63 || ah != 0 || al != 0 {
		return 0, errors.New("invalid sequential JPEG scan parameters")
	}
	for _, c := range comps {
		if err := d.latchQuant(c); err != nil {
			return 0, err
		}
		needDC, needAC := ss == 0 && ah == 0, ss > 0 || !d.progressive
		if needDC && !d.haveDC[c.dcTable] || needAC && !d.haveAC[c.acTable] {
			return 0, errors.New("JPEG scan uses an undefined Huffman table")
		}
		c.scanned = true
	}

	var decodeBlock func(b *bitReader, c *component, bx, by int) error
	switch {
	case !d.progressive:
		decodeBlock = d.decodeSequential
	case ss == 0 && ah == 0:
		decodeBlock = func(b *bitReader, c *component, bx, by int) error { return d.decodeDCFirst(b, c, bx, by, al) }
	case ss == 0:
		decodeBlock = func(b *bitReader, c *component, bx, by int) error {
			if b.bit() {
				c.coefs[(by*c.bw+bx)*64] |= 1 << al
			}
			return nil
		}
	case ah == 0:
		decodeBlock = func(b *bitReader, c *component, bx, by int) error {
			return d.decodeACFirst(b, c, bx, by, ss, se, al)
		}
	default:
		decodeBlock = func(b *bitReader, c *component, bx, by int) error {
			return d.decodeACRefine(b, c, bx, by, ss, se, al)
		}
	}

	b := &bitReader{data: d.data, pos: pos}
	reset := func() {
		for _, c := range comps {
			c.dcPred = 0
		}
		d.eobRun = 0
	}
	reset()
	// A single-component scan codes the component's own blocks one by one; an interleaved scan codes MCUs of
	// h×v blocks of each component.
	mcusX, mcusY := d.mcusX, d.mcusY
	if n == 1 {
		mcusX, mcusY = comps[0].usedW, comps[0].usedH
	}
	for my := range mcusY {
		for mx := range mcusX {
			if mcu := my*mcusX + mx; d.restartEvery > 0 && mcu > 0 && mcu%d.restartEvery == 0 {
				if err := b.restart(); err != nil {
					return 0, err
				}
				reset()
			}
			if n == 1 {
				if err := decodeBlock(b, comps[0], mx, my); err != nil {
					return 0, err
				}
			} else {
				for _, c := range comps {
					for v := range c.v {
						for h := range c.h {
							if err := decodeBlock(b, c, mx*c.h+h, my*c.v+v); err != nil {
								return 0, err
							}
						}
					}
				}
			}
			if b.truncated() {
				return 0, errTruncated
			}
		}
	}
	return b.end(), nil
}

func (d *decoder) latchQuant(c *component) error {
	if c.latched {
		return nil
	}
	if !d.haveQuant[c.tq] {
		return fmt.Errorf("JPEG quantisation table %d is missing", c.tq)
	}
	for k, q := range d.quant[c.tq] {
		c.quant[unzigzag[k]] = q
	}
	c.latched = true
	return nil
}

// naturalIndex is the natural-order position of zigzag index k; like libjpeg's guarded table, corrupt data that
// runs past the block lands on the last coefficient.
func naturalIndex(k int) int {
	if k > 63 {
		return 63
	}
	return int(unzigzag[k])
}

// decodeSequential decodes a block of a sequential scan (libjpeg's decode_mcu), then dequantises and inverse
// transforms it into the component's plane.
func (d *decoder) decodeSequential(b *bitReader, c *component, bx, by int) error {
	blk := &d.block
	*blk = [64]int32{}
	if err := d.decodeDC(b, c); err != nil {
		return err
	}
	blk[0] = int32(int16(c.dcPred)) * c.quant[0]
	ac := &d.acTables[c.acTable]
	onlyDC := true
	for k := 1; k < 64; k++ {
		if b.n < 32 {
			b.fill()
		}
		if f := ac.fastAC[b.acc>>(64-lookupBits)]; f != 0 {
			l := uint(f & 0xFF)
			b.acc <<= l
			b.n -= l
			k += int(f >> 8 & 0xFF)
			i := naturalIndex(k)
			blk[i] = f >> 16 * c.quant[i]
			onlyDC = false
			continue
		}
		rs, err := b.decode(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), rs&15
		if s == 0 {
			if r != 15 {
				break
			}
			k += 15
			continue
		}
		k += r
		i := naturalIndex(k)
		blk[i] = int32(int16(b.receiveExtend(s))) * c.quant[i]
		onlyDC = false
	}
	stride := c.bw * 8
	if onlyDC {
		idctDC(blk[0], c.plane[by*8*stride+bx*8:], stride)
	} else {
		idctBlock(blk, c.plane[by*8*stride+bx*8:], stride)
	}
	return nil
}

func (d *decoder) decodeDCFirst(b *bitReader, c *component, bx, by int, al uint) error {
	if err := d.decodeDC(b, c); err != nil {
		return err
	}
	c.coefs[(by*c.bw+bx)*64] = int16(c.dcPred << al)
	return nil
}

// decodeDC decodes a block's DC difference and adds it to the component's DC predictor.
func (d *decoder) decodeDC(b *bitReader, c *component) error {
	t, err := b.decode(&d.dcTables[c.dcTable])
	if err != nil {
		return err
	}
	if t > 16 {
		return errBadCode
	}
	c.dcPred += b.receiveExtend(t)
	return nil
}

func (d *decoder) decodeACFirst(b *bitReader, c *component, bx, by, ss, se int, al uint) error {
	if d.eobRun > 0 {
		d.eobRun--
		return nil
	}
	coefs := c.coefs[(by*c.bw+bx)*64:][:64]
	ac := &d.acTables[c.acTable]
	for k := ss; k <= se; k++ {
		rs, err := b.decode(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), rs&15
		if s == 0 {
			if r != 15 {
				d.eobRun = 1 << r
				if r > 0 {
					d.eobRun += int(b.bits(uint(r)))
				}
				d.eobRun--
				break
			}
			k += 15
			continue
		}
		k += r
		coefs[naturalIndex(k)] = int16(b.receiveExtend(s) << al)
	}
	return nil
}

// decodeACRefine is libjpeg's decode_mcu_AC_refine: a correction bit for every already non-zero coefficient
// passed over, new coefficients of ±2^al.
func (d *decoder) decodeACRefine(b *bitReader, c *component, bx, by, ss, se int, al uint) error {
	coefs := c.coefs[(by*c.bw+bx)*64:][:64]
	p1, m1 := int16(1)<<al, int16(-1)<<al
	refine := func(i int) {
		if coefs[i] != 0 && b.bit() && coefs[i]&p1 == 0 {
			if coefs[i] >= 0 {
				coefs[i] += p1
			} else {
				coefs[i] += m1
			}
		}
	}
	k := ss
	if d.eobRun == 0 {
		ac := &d.acTables[c.acTable]
		for ; k <= se; k++ {
			rs, err := b.decode(ac)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), rs&15
			var value int16
			if s != 0 {
				// s must be 1 here; libjpeg warns on anything else and goes on.
				value = m1
				if b.bit() {
					value = p1
				}
			} else if r != 15 {
				d.eobRun = 1 << r
				if r > 0 {
					d.eobRun += int(b.bits(uint(r)))
				}
				break
			}
			// Skip r zero coefficients (refining the non-zero ones met), up to the one that becomes non-zero.
			for ; k <= se; k++ {
				i := naturalIndex(k)
				if coefs[i] != 0 {
					refine(i)
				} else {
					if r == 0 {
						break
					}
					r--
				}
			}
			if value != 0 {
				coefs[naturalIndex(k)] = value
			}
		}
	}
	if d.eobRun > 0 {
		for ; k <= se; k++ {
			refine(naturalIndex(k))
		}
		d.eobRun--
	}
	return nil
}

package statedict

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// checkPickleLengths walks the opcodes of the pickle at the start of data, up to its STOP, and checks that every
// length an opcode announces (strings, bytes, frames, long integers) fits in what is left of data. The pickle
// decoder allocates such lengths before reading them: without this check, eight bytes of a crafted file could ask
// for terabytes, which kills the process beyond any recover. Everything else the decoder builds is bounded by
// the number of opcodes, hence by len(data).
func checkPickleLengths(data []byte) error {
	le := binary.LittleEndian
	for pos := 0; pos < len(data); {
		op := data[pos]
		pos++
		rest := len(data) - pos
		fixed, lengthBytes := pickleArgument(op)
		switch {
		case op == '.': // STOP
			return nil
		case fixed < 0: // newline-terminated arguments: GLOBAL and INST have two lines
			lines := -fixed
			for range lines {
				end := bytes.IndexByte(data[pos:], '\n')
				if end < 0 {
					return fmt.Errorf("pickle opcode %q at byte %d: missing end of line", op, pos-1)
				}
				pos += end + 1
			}
			continue
		case fixed > rest:
			return fmt.Errorf("pickle truncated in opcode %q at byte %d", op, pos-1)
		}
		var n uint64
		switch lengthBytes {
		case 1:
			n = uint64(data[pos])
		case 4:
			n = uint64(le.Uint32(data[pos:]))
		case 8:
			n = le.Uint64(data[pos:])
		}
		pos += fixed
		if op == 0x95 { // FRAME: the length covers the opcodes that follow, which are walked as usual
			if n > uint64(len(data)-pos) {
				return fmt.Errorf("pickle frame of %d bytes at byte %d, only %d left", n, pos-9, len(data)-pos)
			}
			continue
		}
		if n > uint64(len(data)-pos) {
			return fmt.Errorf("pickle opcode %q at byte %d announces %d bytes, only %d left", op, pos-fixed-1, n,
				len(data)-pos)
		}
		pos += int(n)
	}
	return fmt.Errorf("pickle truncated: no STOP opcode")
}

// pickleArgument returns the size of an opcode's fixed argument (-1 or -2: one or two newline-terminated lines)
// and, for opcodes followed by that many bytes of data, how many bytes of the argument give the length (else 0).
// Opcodes are pickletools' (protocols 0 to 5); unknown ones take no argument and the decoder rejects them.
func pickleArgument(op byte) (fixed, lengthBytes int) {
	switch op {
	case 'K', 'h', 'q', 0x80, 0x82: // BININT1, BINGET, BINPUT, PROTO, EXT1
		return 1, 0
	case 'M', 0x83: // BININT2, EXT2
		return 2, 0
	case 'J', 'j', 'r', 0x84: // BININT, LONG_BINGET, LONG_BINPUT, EXT4
		return 4, 0
	case 'G': // BINFLOAT
		return 8, 0
	case 'U', 0x8c, 'C', 0x8a: // SHORT_BINSTRING, SHORT_BINUNICODE, SHORT_BINBYTES, LONG1
		return 1, 1
	case 'T', 'X', 'B', 0x8b: // BINSTRING, BINUNICODE, BINBYTES, LONG4
		return 4, 4
	case 0x8d, 0x8e, 0x96, 0x95: // BINUNICODE8, BINBYTES8, BYTEARRAY8, FRAME
		return 8, 8
	case 'I', 'L', 'F', 'S', 'V', 'g', 'p', 'P': // INT, LONG, FLOAT, STRING, UNICODE, GET, PUT, PERSID
		return -1, 0
	case 'c', 'i': // GLOBAL, INST
		return -2, 0
	}
	return 0, 0
}

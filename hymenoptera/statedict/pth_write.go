package statedict

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
)

// SavePTH writes sd in torch's zip format, as torch.save(state_dict, path) does, so that torch.load(path) returns
// an OrderedDict of CPU tensors with sd's keys, in order, and values. Floating-point tensors are written as float32
// (torch.FloatStorage) and the others as int64 (torch.LongStorage): the Go-side representation, whatever DType the
// tensors were read with.
//
// sd.Metadata goes to the state dict's _metadata attribute as _metadata[""]["hymenoptera"] (a dict of strings),
// beside {"version": 1}: torch hands _metadata[""] to the root module only, which ignores unknown entries, so
// model.load_state_dict(torch.load(path)) stays strict-clean.
//
// The file is written to a temporary file and renamed over path, so it is never half-written.
func SavePTH(path string, sd *StateDict) error {
	if err := sd.check(); err != nil {
		return fmt.Errorf("statedict: cannot save %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return writePTH(w, sd) }); err != nil {
		return fmt.Errorf("statedict: cannot save %s: %w", path, err)
	}
	return nil
}

// pthArchive is the directory holding the records, as torch.save names it for file objects.
const pthArchive = "archive/"

// pthAlignment is where torch.save starts each record's data (so that torch.load(..., mmap=True) can map it).
const pthAlignment = 64

func writePTH(w io.Writer, sd *StateDict) error {
	counter := &countingWriter{w: w}
	zw := zip.NewWriter(counter)
	add := func(name string, data []byte) error {
		// The record's data starts after the 30-byte local header, the name and the extra field; the extra
		// field (torch's own padding field, tag "FB") pads the data to the alignment.
		if err := zw.Flush(); err != nil {
			return err
		}
		name = pthArchive + name
		const padHeader = 4
		pad := (pthAlignment - (counter.n+30+int64(len(name))+padHeader)%pthAlignment) % pthAlignment
		extra := append([]byte{'F', 'B', byte(pad), 0}, bytes.Repeat([]byte{'Z'}, int(pad))...)
		fw, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Store, Extra: extra, CRC32: crc32.ChecksumIEEE(data),
			CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
		})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	if err := add("data.pkl", statePickle(sd)); err != nil {
		return err
	}
	for i, key := range sd.Keys {
		if err := add("data/"+strconv.Itoa(i), encodeValues(sd.Tensors[key])); err != nil {
			return err
		}
	}
	if err := add("version", []byte("3\n")); err != nil { // The zip format's version, as torch 1.13 writes it.
		return err
	}
	return zw.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encodeValues returns a tensor's values as little-endian float32 or int64 bytes.
func encodeValues(t *Tensor) []byte {
	if t.DType.IsFloat() {
		out := make([]byte, 4*len(t.Float32))
		for i, v := range t.Float32 {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out
	}
	out := make([]byte, 8*len(t.Int64))
	for i, v := range t.Int64 {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
	}
	return out
}

// Pickle opcodes (protocol 2), named as in Python's pickle module.
const (
	opProto      = 0x80
	opGlobal     = 'c'
	opEmptyTuple = ')'
	opTuple      = 't'
	opReduce     = 'R'
	opMark       = '('
	opEmptyDict  = '}'
	opSetItem    = 's'
	opSetItems   = 'u'
	opBinPersID  = 'Q'
	opNewFalse   = 0x89
	opBuild      = 'b'
	opStop       = '.'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinInt     = 'J'
	opLong1      = 0x8a
	opBinUnicode = 'X'
)

// pickler writes the few pickle constructs a state dict needs, without memoization (which pickle makes optional).
type pickler struct{ bytes.Buffer }

func (p *pickler) global(module, name string) {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.WriteByte(opBinUnicode)
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}

func (p *pickler) int(v int) {
	switch {
	case v >= 0 && v <= math.MaxUint8:
		p.Write([]byte{opBinInt1, byte(v)})
	case v >= 0 && v <= math.MaxUint16:
		p.WriteByte(opBinInt2)
		p.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.WriteByte(opBinInt)
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default:
		p.Write([]byte{opLong1, 8})
		p.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
	}
}

func (p *pickler) intTuple(values []int) {
	p.WriteByte(opMark)
	for _, v := range values {
		p.int(v)
	}
	p.WriteByte(opTuple)
}

// orderedDict pushes a new, empty collections.OrderedDict.
func (p *pickler) orderedDict() {
	p.global("collections", "OrderedDict")
	p.Write([]byte{opEmptyTuple, opReduce})
}

// tensor pushes torch._utils._rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict()),
// the storage being the persistent id ("storage", torch.<class>, key, "cpu", numel) that torch.load resolves to
// the record data/<key>.
func (p *pickler) tensor(t *Tensor, key string) {
	class := "LongStorage"
	if t.DType.IsFloat() {
		class = "FloatStorage"
	}
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteByte(opMark)
	p.WriteByte(opMark)
	p.str("storage")
	p.global("torch", class)
	p.str(key)
	p.str("cpu")
	p.int(len(t.Float32) + len(t.Int64)) // The element count; check made it match Shape.
	p.WriteByte(opTuple)
	p.WriteByte(opBinPersID)
	p.int(0)
	p.intTuple(t.Shape)
	p.intTuple(contiguousStrides(t.Shape))
	p.WriteByte(opNewFalse)
	p.orderedDict()
	p.WriteByte(opTuple)
	p.WriteByte(opReduce)
}

// statePickle returns data.pkl for sd: an OrderedDict of tensors whose _metadata attribute is
// OrderedDict({"": {"version": 1, "hymenoptera": sd.Metadata}}), the "hymenoptera" entry only when there is metadata.
func statePickle(sd *StateDict) []byte {
	var p pickler
	p.Write([]byte{opProto, 2})
	p.orderedDict()
	p.WriteByte(opMark)
	for i, key := range sd.Keys {
		p.str(key)
		p.tensor(sd.Tensors[key], strconv.Itoa(i))
	}
	p.WriteByte(opSetItems)

	p.WriteByte(opEmptyDict) // The OrderedDict's __dict__, set by BUILD.
	p.str("_metadata")
	p.orderedDict()
	p.str("")
	p.WriteByte(opEmptyDict)
	p.str("version")
	p.int(1)
	p.WriteByte(opSetItem)
	if len(sd.Metadata) > 0 {
		p.str(metadataKey)
		p.WriteByte(opEmptyDict)
		p.WriteByte(opMark)
		for _, k := range slices.Sorted(maps.Keys(sd.Metadata)) {
			p.str(k)
			p.str(sd.Metadata[k])
		}
		p.WriteByte(opSetItems)
		p.WriteByte(opSetItem)
	}
	p.WriteByte(opSetItem) // _metadata[""] = {...}
	p.WriteByte(opSetItem) // __dict__["_metadata"] = _metadata
	p.WriteByte(opBuild)
	p.WriteByte(opStop)
	return p.Bytes()
}

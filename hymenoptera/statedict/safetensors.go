package statedict

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/atomicfile"
)

// safetensorsDTypes maps the dtype names of the safetensors header.
var safetensorsDTypes = map[string]DType{
	"F32": Float32, "F64": Float64, "F16": Float16, "BF16": BFloat16,
	"I64": Int64, "I32": Int32, "I16": Int16, "I8": Int8, "U8": Uint8, "BOOL": Bool,
}

// safetensorsEntry is a tensor's description in the safetensors header; DataOffsets are relative to the end of
// the header.
type safetensorsEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// safetensorsMetadataKey is the header entry holding free-form strings rather than a tensor.
const safetensorsMetadataKey = "__metadata__"

// parseSafetensors reads the safetensors format: a little-endian u64 header size, a JSON header mapping names to
// entries (in the file's order, which Keys keeps), then the tensors' bytes.
func parseSafetensors(data []byte, budget int) (*StateDict, error) {
	size := binary.LittleEndian.Uint64(data)
	if size > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors header claims %d bytes, the file has %d after the size field (truncated?)",
			size, len(data)-8)
	}
	body := data[8+size:]
	dec := json.NewDecoder(bytes.NewReader(data[8 : 8+size]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("safetensors header is not a JSON object")
	}
	sd := New()
	elements := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors header: %w", err)
		}
		key := tok.(string) // Object keys are always strings.
		if key == safetensorsMetadataKey {
			if err := dec.Decode(&sd.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors header %s: %w", safetensorsMetadataKey, err)
			}
			continue
		}
		var entry safetensorsEntry
		if err := dec.Decode(&entry); err != nil {
			return nil, fmt.Errorf("safetensors header, tensor %q: %w", key, err)
		}
		if _, dup := sd.Tensors[key]; dup {
			return nil, fmt.Errorf("safetensors header lists tensor %q twice", key)
		}
		t, err := entry.tensor(body, budget-elements)
		if err != nil {
			return nil, fmt.Errorf("safetensors header, tensor %q: %w", key, err)
		}
		elements += len(t.Float32) + len(t.Int64)
		sd.Set(key, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	if sd.Metadata == nil { // "__metadata__": null
		sd.Metadata = map[string]string{}
	}
	return sd, nil
}

// tensor checks the entry against the data section and the elements left in the load's budget, then decodes
// its bytes.
func (e *safetensorsEntry) tensor(body []byte, budget int) (*Tensor, error) {
	dtype, ok := safetensorsDTypes[e.DType]
	if !ok {
		return nil, fmt.Errorf("unknown dtype %q", e.DType)
	}
	t := &Tensor{DType: dtype, Shape: e.Shape}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || begin > end || end > len(body) {
		return nil, fmt.Errorf("data_offsets [%d, %d] outside the %d bytes of data", begin, end, len(body))
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return nil, err
	}
	if n > budget {
		return nil, fmt.Errorf("shape %v: more elements than the model this file is loaded for can hold", t.Shape)
	}
	if end-begin != n*dtype.size() {
		return nil, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, shape %v of %s needs %d",
			begin, end, end-begin, t.Shape, dtype, n*dtype.size())
	}
	values := decodeStorage(dtype, body[begin:end])
	t.Float32, t.Int64 = values.floats, values.ints
	return t, nil
}

// SaveSafetensors writes sd as a safetensors file, tensors in sd.Keys order and sd.Metadata in the header's
// __metadata__. Floating-point tensors are written as F32 and the others as I64, the Go-side representation
// (see SavePTH). The file is written to a temporary file and renamed over path, so it is never half-written.
func SaveSafetensors(path string, sd *StateDict) error {
	if err := sd.check(); err != nil {
		return fmt.Errorf("statedict: cannot save %s: %w", path, err)
	}
	var entries []string // The header's "name": value pairs, __metadata__ first as the safetensors library writes.
	if len(sd.Metadata) > 0 {
		metadata, _ := json.Marshal(sd.Metadata) // Strings always marshal (check made sure they are UTF-8).
		entries = append(entries, `"`+safetensorsMetadataKey+`":`+string(metadata))
	}
	offset := 0
	for _, key := range sd.Keys {
		t := sd.Tensors[key]
		dtype, size := "I64", 8*len(t.Int64)
		if t.DType.IsFloat() {
			dtype, size = "F32", 4*len(t.Float32)
		}
		entry, _ := json.Marshal(safetensorsEntry{DType: dtype, Shape: nonNil(t.Shape), DataOffsets: [2]int{offset, offset + size}})
		name, _ := json.Marshal(key)
		entries = append(entries, string(name)+":"+string(entry))
		offset += size
	}
	header := []byte("{" + strings.Join(entries, ",") + "}")
	header = append(header, bytes.Repeat([]byte(" "), (8-len(header)%8)%8)...) // Aligns the data, as the library does.
	err := atomicfile.Write(path, func(w io.Writer) error {
		if err := binary.Write(w, binary.LittleEndian, uint64(len(header))); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		for _, key := range sd.Keys {
			if _, err := w.Write(encodeValues(sd.Tensors[key])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("statedict: cannot save %s: %w", path, err)
	}
	return nil
}

func nonNil(shape []int) []int {
	if shape == nil {
		return []int{} // A 0-dim tensor: "shape": [], never null.
	}
	return shape
}

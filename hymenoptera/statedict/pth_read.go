package statedict

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// parseZip reads torch's zip format (torch.save since PyTorch 1.6): <archive>/data.pkl is the pickle, and each
// storage is the record <archive>/data/<key>, holding its raw little-endian bytes.
func parseZip(data []byte, budget int) (*StateDict, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("corrupt or truncated zip archive: %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	prefix, found := "", false
	for _, f := range zr.File {
		records[f.Name] = f
		if dir, name, ok := strings.Cut(f.Name, "/"); ok && name == "data.pkl" {
			prefix, found = dir+"/", true
		}
	}
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, errors.New("a TorchScript archive (torch.jit.save), not a state dict")
	}
	if !found {
		return nil, errors.New("a zip archive without <archive>/data.pkl: not written by torch.save")
	}
	// torch.save writes this record since PyTorch 2.1: sys.byteorder, "little" or "big".
	if f, ok := records[prefix+"byteorder"]; ok {
		if f.UncompressedSize64 > uint64(len("little")) {
			return nil, fmt.Errorf("record %s holds %d bytes, not a byte order", f.Name, f.UncompressedSize64)
		}
		order, err := readRecord(f, -1)
		if err != nil {
			return nil, err
		}
		if string(order) != "little" {
			return nil, fmt.Errorf("byte order %q: only little-endian files are supported", order)
		}
	}
	pklRecord := records[prefix+"data.pkl"]
	if pklRecord.UncompressedSize64 > maxPickleBytes {
		return nil, fmt.Errorf("record %s holds %d bytes, more than a state dict's pickle (at most %d)",
			pklRecord.Name, pklRecord.UncompressedSize64, maxPickleBytes)
	}
	pkl, err := readRecord(pklRecord, -1)
	if err != nil {
		return nil, err
	}
	obj, _, err := unpickleTorch(pkl, func(fields []any) (any, error) {
		return newStorageRef(fields)
	})
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	return stateDictFromPickle(obj, budget, func(s *storageRef) (storageValues, error) {
		name := prefix + "data/" + s.key
		f, ok := records[name]
		if !ok {
			return storageValues{}, fmt.Errorf("storage record %s is missing", name)
		}
		raw, err := readRecord(f, int64(s.numel*s.dtype.size()))
		if err != nil {
			return storageValues{}, err
		}
		return decodeStorage(s.dtype, raw), nil
	})
}

// readRecord reads a whole zip record, checking its CRC. A size >= 0 is the size the record must have.
func readRecord(f *zip.File, size int64) ([]byte, error) {
	if size >= 0 && f.UncompressedSize64 != uint64(size) {
		return nil, fmt.Errorf("record %s holds %d bytes, expected %d", f.Name, f.UncompressedSize64, size)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer r.Close()
	// One allocation of the right size (unless the header lies beyond reason); reading to EOF makes the zip reader
	// check the CRC.
	// (The callers bound the size; archive/zip refuses a record longer than its header says.)
	buf := bytes.NewBuffer(make([]byte, 0, f.UncompressedSize64+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// pickleProto is the opcode that starts every pickle of protocol 2 or more, as torch's legacy format does.
const pickleProto = 0x80

// legacyMagic is the number that torch's legacy format pickles first.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyProtocolVersion is the format version that torch's legacy format pickles second.
const legacyProtocolVersion = 1001

// parseLegacy reads torch's legacy format (torch.save with _use_new_zipfile_serialization=False, and every file
// from PyTorch 0.4 to 1.5): five pickles in a row (magic number, protocol version, system info, the object, the
// storage keys), then for each key the storage's element count as an int64 and its raw bytes.
func parseLegacy(data []byte, budget int) (*StateDict, error) {
	rest := data
	header := func(what string) (any, error) {
		obj, after, err := unpickleTorch(rest, func([]any) (any, error) {
			return nil, fmt.Errorf("unexpected storage in the %s", what)
		})
		rest = after
		if err != nil {
			return nil, fmt.Errorf("legacy %s: %w", what, err)
		}
		return obj, nil
	}
	magic, err := header("magic number")
	if n, ok := magic.(*big.Int); err != nil || !ok || n.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: a pickle without torch.save's magic number", errNotCheckpoint)
	}
	version, err := header("protocol version")
	if err != nil {
		return nil, err
	}
	if version != legacyProtocolVersion {
		return nil, fmt.Errorf("legacy protocol version %v, expected %d", version, legacyProtocolVersion)
	}
	sysInfo, err := header("system info")
	if err != nil {
		return nil, err
	}
	entries, _, _ := dictEntries(sysInfo)
	if little, _ := lookup(entries, "little_endian"); little == false {
		return nil, errors.New("written on a big-endian machine: only little-endian files are supported")
	}

	storages := map[string]*storageRef{}
	obj, after, err := unpickleTorch(rest, func(fields []any) (any, error) {
		s, err := newStorageRef(fields)
		if err != nil {
			return nil, err
		}
		if len(fields) > 4 && fields[4] != nil {
			return nil, fmt.Errorf("storage %s is a view of another storage (PyTorch < 0.4): load it with torch and save it again", s.key)
		}
		if known, ok := storages[s.key]; ok {
			return known, nil
		}
		storages[s.key] = s
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("legacy pickle: %w", err)
	}
	rest = after
	keysObj, err := header("storage keys")
	if err != nil {
		return nil, err
	}
	raw, err := legacyStorageBytes(keysObj, storages, rest)
	if err != nil {
		return nil, err
	}
	return stateDictFromPickle(obj, budget, func(s *storageRef) (storageValues, error) {
		return decodeStorage(s.dtype, raw[s.key]), nil
	})
}

// legacyStorageBytes splits the tail of a legacy file into the storages' raw bytes, in the order keysObj lists them.
func legacyStorageBytes(keysObj any, storages map[string]*storageRef, tail []byte) (map[string][]byte, error) {
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("legacy storage keys are a %s, not a list", describe(keysObj))
	}
	raw := make(map[string][]byte, len(*keys))
	for _, k := range *keys {
		key, _ := k.(string)
		s, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("legacy storage key %v is used by no tensor", k)
		}
		if len(tail) < 8 {
			return nil, fmt.Errorf("truncated: storage %s is missing", key)
		}
		numel := binary.LittleEndian.Uint64(tail)
		nbytes := uint64(s.numel) * uint64(s.dtype.size())
		if numel != uint64(s.numel) {
			return nil, fmt.Errorf("storage %s: file holds %d elements, the pickle says %d", key, numel, s.numel)
		}
		if uint64(len(tail)-8) < nbytes {
			return nil, fmt.Errorf("truncated: storage %s needs %d bytes, %d left", key, nbytes, len(tail)-8)
		}
		raw[key] = tail[8 : 8+nbytes]
		tail = tail[8+nbytes:]
	}
	return raw, nil
}

package pinproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A checksum database for the pins.
//
// The go command verifies every module version it adds to a go.sum: against the checksum database named by
// GOSUMDB, unless GONOSUMDB or GOSUMDB=off exempts it. GoNB's throw-away module starts with an empty go.sum, so
// its `go get` must look up every pinned module there; with the public database unreachable, that fails ("verifying
// module: ...: no such host"), and a warm module cache only hid it, because it holds earlier lookups.
//
// The hashes are already known and verified: the repository's go.sum, checked against the public database by
// whoever committed it. So the proxy also carries a checksum database, served as static files in the protocol's
// layout (/latest, /lookup/PATH@VERSION, /tile/...), whose records are exactly the repository's go.sum lines. The
// kernelspec names it in GOSUMDB. The go command then verifies as always, but against these hashes: a pinned
// module whose files differ from go.sum is refused (checksum mismatch), and a module or version go.sum does not
// list has no record, so it cannot be verified and is refused too. Nothing is exempted from verification.
//
// The database is signed with a key derived from its content, and its name carries the content's hash: the go
// command remembers the last tree it saw per database name (in GOPATH/pkg/sumdb), and would report two different
// trees under one name as a fork. A derived key protects nothing by itself; what makes the records trustworthy
// is where they come from, and the files are exactly as trustworthy as the kernelspec that points at them.

// SumDB describes a written checksum database.
type SumDB struct {
	Name        string // the database's name, e.g. "hymenoptera-pins/0123456789abcdef"
	VerifierKey string // its public key, in the go command's "name+hash+key" form
	URL         string // file:// URL of its root
}

// GOSUMDB is the value of the GOSUMDB environment variable that makes the go command use db.
func (db SumDB) GOSUMDB() string { return db.VerifierKey + " " + db.URL }

// Sum is one line of a go.sum file.
type Sum struct {
	Path    string
	Version string // a module version, or one followed by "/go.mod" for the hash of its go.mod alone
	Hash    string // "h1:..."
}

// ParseGoSum reads a go.sum file.
func ParseGoSum(path string) ([]Sum, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sums []Sum
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 || !strings.HasPrefix(fields[2], "h1:") {
			return nil, fmt.Errorf("%s:%d: not a go.sum line: %q", path, line, scanner.Text())
		}
		version := strings.TrimSuffix(fields[1], "/go.mod")
		if err := module.Check(fields[0], version); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		sums = append(sums, Sum{Path: fields[0], Version: fields[1], Hash: fields[2]})
	}
	return sums, scanner.Err()
}

// sumDBTileHeight is the tile height the go command's checksum database client reads.
const sumDBTileHeight = 8

// sumDBNamePrefix starts the name of every database this package writes; the go command requires the form of a
// host name with an optional path.
const sumDBNamePrefix = "hymenoptera-pins/"

// writeSumDB writes a checksum database holding sums into root/sumdb/NAME, and describes it as it will be served
// once root has been moved to servedRoot.
func writeSumDB(root, servedRoot string, sums []Sum) (SumDB, error) {
	records, err := sumRecords(sums)
	if err != nil {
		return SumDB{}, err
	}
	digest := sha256.New()
	for _, r := range records {
		digest.Write(r.text)
	}
	id := digest.Sum(nil)
	name := sumDBNamePrefix + hex.EncodeToString(id[:8])
	skey, vkey, err := note.GenerateKey(bytes.NewReader(id), name) // reads 32 bytes: the ed25519 seed
	if err != nil {
		return SumDB{}, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return SumDB{}, err
	}
	rel := filepath.Join("sumdb", filepath.FromSlash(name))
	dir := filepath.Join(root, rel)

	var hashes []tlog.Hash // every stored hash of the tree, by storage index
	readHashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("checksum database: no stored hash %d", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	for n, r := range records {
		stored, err := tlog.StoredHashes(int64(n), r.text, readHashes)
		if err != nil {
			return SumDB{}, err
		}
		hashes = append(hashes, stored...)
	}
	size := int64(len(records))
	treeHash, err := tlog.TreeHash(size, readHashes)
	if err != nil {
		return SumDB{}, err
	}
	signed, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: size, Hash: treeHash}))}, signer)
	if err != nil {
		return SumDB{}, err
	}
	if err := writeDBFile(dir, "latest", signed); err != nil {
		return SumDB{}, err
	}
	for n, r := range records {
		msg, err := tlog.FormatRecord(int64(n), r.text)
		if err != nil {
			return SumDB{}, err
		}
		if err := writeDBFile(dir, "lookup/"+r.key, append(msg, signed...)); err != nil {
			return SumDB{}, err
		}
	}
	// The client proves each lookup against the signed tree with hash tiles. (Data tiles, which only auditors
	// read, are left out.)
	for _, tile := range tlog.NewTiles(sumDBTileHeight, 0, size) {
		data, err := tlog.ReadTileData(tile, readHashes)
		if err != nil {
			return SumDB{}, err
		}
		if err := writeDBFile(dir, tile.Path(), data); err != nil {
			return SumDB{}, err
		}
	}
	return SumDB{Name: name, VerifierKey: vkey, URL: "file://" + filepath.ToSlash(filepath.Join(servedRoot, rel))}, nil
}

// sumRecord is one checksum database record: the go.sum lines of one module version.
type sumRecord struct {
	key  string // PATH@VERSION as the lookup URL spells it (case-escaped)
	text []byte
}

// sumRecords groups go.sum lines into records, sorted by module path and version so that the same go.sum always
// makes the same database.
func sumRecords(sums []Sum) ([]sumRecord, error) {
	lines := map[module.Version][]string{}
	for _, s := range sums {
		mv := module.Version{Path: s.Path, Version: strings.TrimSuffix(s.Version, "/go.mod")}
		lines[mv] = append(lines[mv], fmt.Sprintf("%s %s %s\n", s.Path, s.Version, s.Hash))
	}
	versions := make([]module.Version, 0, len(lines))
	for mv := range lines {
		versions = append(versions, mv)
	}
	module.Sort(versions)
	records := make([]sumRecord, 0, len(versions))
	for _, mv := range versions {
		escPath, err := module.EscapePath(mv.Path)
		if err != nil {
			return nil, err
		}
		escVersion, err := module.EscapeVersion(mv.Version)
		if err != nil {
			return nil, err
		}
		text := lines[mv]
		sort.Strings(text) // "v1.2.3 h1:" sorts before "v1.2.3/go.mod h1:", the order the public database uses
		records = append(records, sumRecord{key: escPath + "@" + escVersion, text: []byte(strings.Join(text, ""))})
	}
	return records, nil
}

func writeDBFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

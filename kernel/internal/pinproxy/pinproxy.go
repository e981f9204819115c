// Package pinproxy writes a read-only Go module proxy, as a directory for GOPROXY=file://..., that knows exactly
// one version of each module: the one the repository's build list selects; and beside it a checksum database for
// GOSUMDB holding exactly the repository's go.sum hashes (see SumDB).
//
// GoNB runs `go get` in each notebook's throw-away module, and `go get` resolves a missing import by asking the
// proxy for the latest version of every module path that could provide it: go.work does not take part. Served
// through this proxy, "latest" is the pinned version, so a notebook that imports gonbui or GoMLX gets the versions
// the repository was tested with, and needs no network. The module files themselves come from the module cache,
// which the go command reads before any proxy; the proxy links to the cache's copies for whatever is there.
package pinproxy

import (
	"encoding/json"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
)

// Module is one module version to serve.
type Module struct {
	Path    string
	Version string
}

// Write replaces dir with a proxy tree serving modules, and a checksum database of sums under dir/sumdb/.
// cacheDownloadDir is the module cache's download directory ($GOMODCACHE/cache/download), whose .info, .mod and
// .zip files are linked into the tree when present. The new tree is built beside dir and swapped in, so that a
// running kernel never sees a half-written proxy. It returns the checksum database, for GOSUMDB.
func Write(dir string, modules []Module, sums []Sum, cacheDownloadDir string) (SumDB, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return SumDB{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return SumDB{}, err
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".new-*")
	if err != nil {
		return SumDB{}, err
	}
	defer os.RemoveAll(staging) // gone already once renamed
	for _, m := range modules {
		if err := writeModule(staging, m, cacheDownloadDir); err != nil {
			return SumDB{}, err
		}
	}
	db, err := writeSumDB(staging, dir, sums)
	if err != nil {
		return SumDB{}, err
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return SumDB{}, err
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return SumDB{}, err
	}
	if err := os.Rename(dir, old); err != nil && !os.IsNotExist(err) {
		return SumDB{}, err
	}
	if err := os.Rename(staging, dir); err != nil {
		return SumDB{}, err
	}
	return db, os.RemoveAll(old)
}

func writeModule(root string, m Module, cacheDownloadDir string) error {
	// The module proxy protocol's case encoding ('!' before a lower-cased capital) keeps module paths apart on
	// case-insensitive file systems.
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	versionDir := filepath.Join(root, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(versionDir, 0o755); err != nil {
		return err
	}
	cacheDir := filepath.Join(cacheDownloadDir, filepath.FromSlash(escaped), "@v")

	// The go command ignores pseudo-versions in a list and asks @latest instead: serve both.
	if err := os.WriteFile(filepath.Join(versionDir, "list"), []byte(m.Version+"\n"), 0o644); err != nil {
		return err
	}
	info, err := os.ReadFile(filepath.Join(cacheDir, m.Version+".info"))
	if err != nil {
		info, err = json.Marshal(struct{ Version string }{m.Version})
		if err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(escaped), "@latest"), info, 0o644); err != nil {
		return err
	}
	for _, ext := range []string{".info", ".mod", ".zip"} {
		cached := filepath.Join(cacheDir, m.Version+ext)
		if _, err := os.Stat(cached); err != nil {
			continue
		}
		if err := os.Symlink(cached, filepath.Join(versionDir, m.Version+ext)); err != nil {
			return err
		}
	}
	return nil
}

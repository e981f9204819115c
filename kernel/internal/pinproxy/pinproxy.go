// Package pinproxy writes a read-only Go module proxy, as a directory for GOPROXY=file://..., that knows exactly
// one version of each module: the one the repository's build list selects.
//
// GoNB runs `go get` in each notebook's throw-away module, and `go get` resolves a missing import by asking the
// proxy for the latest version of every module path that could provide it: go.work does not take part. Served
// through this proxy, "latest" is the pinned version, so a notebook that imports gonbui or GoMLX gets the versions
// the repository was tested with, and needs no network. The module files themselves come from the module cache,
// which the go command reads before any proxy; the proxy links to the cache's copies for whatever is there.
package pinproxy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Module is one module version to serve.
type Module struct {
	Path    string
	Version string
}

// Write replaces dir with a proxy tree serving modules. cacheDownloadDir is the module cache's download
// directory ($GOMODCACHE/cache/download), whose .info, .mod and .zip files are linked into the tree when present.
// The new tree is built beside dir and swapped in, so that a running kernel never sees a half-written proxy.
func Write(dir string, modules []Module, cacheDownloadDir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".new-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging) // gone already once renamed
	for _, m := range modules {
		if err := writeModule(staging, m, cacheDownloadDir); err != nil {
			return err
		}
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

func writeModule(root string, m Module, cacheDownloadDir string) error {
	escaped, err := EscapePath(m.Path)
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

// EscapePath applies the module proxy protocol's case encoding: each upper-case letter becomes '!' followed by
// its lower-case form, so that module paths survive case-insensitive file systems.
func EscapePath(path string) (string, error) {
	if path == "" || strings.ContainsAny(path, "!\\") || strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return "", fmt.Errorf("pinproxy: invalid module path %q", path)
	}
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

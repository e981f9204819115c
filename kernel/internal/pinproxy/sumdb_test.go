package pinproxy

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// cachedModule puts module path@version, with a go.mod and one Go file, into a module cache download directory,
// the way the go command stores a download, and returns its go.sum lines.
func cachedModule(t *testing.T, cache, path, version string) []Sum {
	t.Helper()
	escaped, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(cache, filepath.FromSlash(escaped), "@v", version)
	goMod := "module " + path + "\n\ngo 1.22\n"
	writeFile(t, base+".info", `{"Version":"`+version+`"}`)
	writeFile(t, base+".mod", goMod)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), goMod)
	writeFile(t, filepath.Join(src, "p.go"), "package p\n")
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, module.Version{Path: path, Version: version}, src); err != nil {
		t.Fatal(err)
	}
	writeFile(t, base+".zip", zip.String())
	zipHash, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(goMod)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return []Sum{{path, version, zipHash}, {path, version + "/go.mod", modHash}}
}

func TestParseGoSum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.sum")
	writeFile(t, path, "example.com/a v1.0.0 h1:abc=\nexample.com/a v1.0.0/go.mod h1:def=\n\n")
	sums, err := ParseGoSum(path)
	if err != nil || len(sums) != 2 || sums[1] != (Sum{"example.com/a", "v1.0.0/go.mod", "h1:def="}) {
		t.Errorf("ParseGoSum = %+v, %v", sums, err)
	}
	for _, bad := range []string{"example.com/a v1.0.0\n", "example.com/a v1.0.0 md5:x\n", "../a v1.0.0 h1:x\n"} {
		writeFile(t, path, bad)
		if _, err := ParseGoSum(path); err == nil || !strings.Contains(err.Error(), "go.sum:1") {
			t.Errorf("ParseGoSum(%q) error = %v, want one naming go.sum:1", bad, err)
		}
	}
}

// TestGoCommandVerifiesAgainstTheDatabase has the real go command download modules through the proxy, with the
// written checksum database as GOSUMDB, an empty module cache and no other checksum source: a module whose hashes
// the database holds downloads and lands in go.sum; one whose files differ from its recorded hash, and one the
// database does not list, are refused.
func TestGoCommandVerifiesAgainstTheDatabase(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cache := filepath.Join(t.TempDir(), "download")
	sums := cachedModule(t, cache, "example.com/Pinned", "v1.2.3")
	tampered := cachedModule(t, cache, "example.com/tampered", "v1.0.0")
	tampered[0].Hash = sums[0].Hash // the database records other content than the proxy serves
	sums = append(sums, tampered...)
	cachedModule(t, cache, "example.com/unlisted", "v1.0.0")
	modules := []Module{{"example.com/Pinned", "v1.2.3"}, {"example.com/tampered", "v1.0.0"},
		{"example.com/unlisted", "v1.0.0"}}
	proxy := filepath.Join(t.TempDir(), "goproxy")
	db, err := Write(proxy, modules, sums, cache)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(db.Name, sumDBNamePrefix) || !strings.HasPrefix(db.VerifierKey, db.Name+"+") {
		t.Errorf("database %+v: name and key do not match", db)
	}

	work := t.TempDir()
	writeFile(t, filepath.Join(work, "go.mod"), "module probe\n\ngo 1.22\n")
	home := t.TempDir()
	get := func(mod string) (string, error) {
		cmd := exec.Command(goCmd, "get", mod)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOPROXY=file://"+proxy+",off", "GOSUMDB="+db.GOSUMDB(), "GONOSUMDB=",
			"GONOSUMCHECK=", "GOPRIVATE=", "GOINSECURE=", "GOFLAGS=-modcacherw", "GOWORK=off", "GOTOOLCHAIN=local",
			"HOME="+home, "GOPATH="+filepath.Join(home, "go"), "GOMODCACHE="+filepath.Join(home, "mod"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := get("example.com/Pinned@v1.2.3"); err != nil {
		t.Fatalf("go get of a module the database holds: %v\n%s", err, out)
	}
	goSum, _ := os.ReadFile(filepath.Join(work, "go.sum"))
	for _, s := range sums[:2] {
		if line := s.Path + " " + s.Version + " " + s.Hash; !strings.Contains(string(goSum), line) {
			t.Errorf("go.sum lacks %q:\n%s", line, goSum)
		}
	}
	if out, err := get("example.com/tampered@v1.0.0"); err == nil || !strings.Contains(out, "checksum mismatch") {
		t.Errorf("go get of a module whose content differs from the database: %v\n%s", err, out)
	}
	if out, err := get("example.com/unlisted@v1.0.0"); err == nil || !strings.Contains(out, "verifying module") {
		t.Errorf("go get of a module the database does not list: %v\n%s", err, out)
	}

	// The same sums make the same database, so that the go command's memory of it (per name) stays consistent.
	again, err := Write(proxy, modules, sums, cache)
	if err != nil || again != db {
		t.Errorf("rewriting the same sums gave %+v, %v; want %+v", again, err, db)
	}
}

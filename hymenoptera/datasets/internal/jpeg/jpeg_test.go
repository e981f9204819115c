package jpeg

//go:generate /usr/bin/python3 ../../../reference/data_fixtures.py

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

// The decoder's output is compared with PIL's by the datasets package's golden tests (every JPEG of the dataset,
// and PIL-made and hand-made JPEGs of every kind); these tests cover bad input.

const limit = 1 << 28

// fixtureJPEGs returns the JPEG files among the format fixtures.
func fixtureJPEGs(t testing.TB) map[string][]byte {
	t.Helper()
	dir := filepath.Join(filepath.Dir(testenv.Fixture(t, "data", "formats.json")), "formats")
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no JPEG in %s: %v", dir, err)
	}
	files := map[string][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = data
	}
	return files
}

// TestTruncatedFilesFail cuts every fixture JPEG at every length: no cut may panic, and every cut before the end
// of the last scan must fail (a sequential file missing only its EOI marker decodes, as with libjpeg and PIL).
func TestTruncatedFilesFail(t *testing.T) {
	for name, data := range fixtureJPEGs(t) {
		complete, err := Decode(data, limit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		decodedPrefixes := 0
		for n := range len(data) {
			img, err := Decode(data[:n], limit)
			if err != nil {
				continue
			}
			decodedPrefixes++
			if string(img.Pix) != string(complete.Pix) {
				t.Errorf("%s cut at %d of %d bytes decodes without error to other pixels", name, n, len(data))
			}
		}
		if decodedPrefixes > 2 { // the file without EOI, or without its last byte
			t.Errorf("%s: %d truncated versions decode without error", name, decodedPrefixes)
		}
	}
}

func TestCorruptFilesDoNotPanic(t *testing.T) {
	for _, data := range fixtureJPEGs(t) {
		corrupt := append([]byte(nil), data...)
		for i := 20; i < len(corrupt); i += 7 {
			corrupt[i] ^= byte(i)
			Decode(corrupt, limit) // any result but a panic
		}
	}
}

func TestUnsupportedAndInvalid(t *testing.T) {
	files := fixtureJPEGs(t)
	base := files["rgb.jpg"]
	sof := strings.Index(string(base), "\xff\xc0")
	if sof < 0 {
		t.Fatal("rgb.jpg has no SOF0 marker")
	}
	withByte := func(i int, b byte) []byte {
		out := append([]byte(nil), base...)
		out[i] = b
		return out
	}
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"not a JPEG", "not a JPEG", []byte("GIF89a")},
		{"empty", "not a JPEG", nil},
		{"arithmetic coding", "SOF9", withByte(sof+1, 0xC9)},
		{"lossless", "SOF3", withByte(sof+1, 0xC3)},
		{"12-bit", "precision 12", withByte(sof+4, 12)},
		{"too large", "exceeds the limit", base},
	} {
		max := int64(limit)
		if c.name == "too large" {
			max = 100
		}
		_, err := Decode(c.data, max)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := Decode(base[:len(base)/2], limit); !errors.Is(err, errTruncated) {
		t.Errorf("half a file: error %v, want %v", err, errTruncated)
	}
}

func FuzzDecode(f *testing.F) {
	for _, data := range fixtureJPEGs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, 1<<20)
		if err == nil && len(img.Pix) != img.W*img.H*img.Model.Channels() {
			t.Fatalf("%d×%d image with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}

package datasets_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
)

// FuzzExtractZip: whatever the archive, ExtractZip writes nothing outside its destination and leaves there only
// directories and regular files. Run longer with
// `GOEXPERIMENT=simd go test ./hymenoptera/datasets -run '^$' -fuzz FuzzExtractZip -fuzztime 10m -parallel 1`.
func FuzzExtractZip(f *testing.F) {
	for _, entries := range [][]zipEntrySpec{
		{{name: "hymenoptera_data/train/ants/a.ppm", body: "P6 1 1 255\n\x01\x02\x03"}, {name: "hymenoptera_data/val/"}},
		{{name: "../evil.txt", body: "x"}},
		{{name: "/abs/evil.txt", body: "x"}},
		{{name: `a\..\..\evil.txt`, body: "x"}},
		{{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink}},
		{{name: "dup", body: "1"}, {name: "dup", body: "2"}},
		{{name: "d", body: "x"}, {name: "d/e", body: "y"}},
	} {
		f.Add(zipBytes(f, entries...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		archive := filepath.Join(root, "in.zip")
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(root, "parent", "out")
		datasets.ExtractZip(archive, dest) // an error is fine; what it leaves is checked below
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			switch {
			case rel == "." || rel == "in.zip" || rel == "parent" || rel == filepath.Join("parent", "out"):
			case !strings.HasPrefix(rel, filepath.Join("parent", "out")+string(filepath.Separator)):
				t.Errorf("%s written outside the destination", rel)
			case !d.IsDir() && !d.Type().IsRegular():
				t.Errorf("%s is a %v, not a regular file", rel, d.Type())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// pngWithSize returns a valid small PNG whose header claims w×h pixels (with a correct CRC).
func pngWithSize(t testing.TB, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	binary.BigEndian.PutUint32(data[16:], w) // IHDR data starts at 16: signature 8, length 4, type 4
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// FuzzDecodeImage: no input makes DecodeImage panic past its recover, hang, allocate past the pixel limit, or
// return an image whose fields disagree. (The JPEG decoder has its own target, internal/jpeg's FuzzDecode.)
func FuzzDecodeImage(f *testing.F) {
	var gif bytes.Buffer
	gif.WriteString("GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	for _, seed := range [][]byte{
		pngWithSize(f, 2, 2),
		pngWithSize(f, 20000, 20000), // refused before allocation
		[]byte("P6 2 1 255\n\x01\x02\x03\x04\x05\x06"),
		[]byte("P3 1 1 65535\n65535 0 1000\n"),
		[]byte("P5 100000 100000 255\n"),
		[]byte("BM"),
		[]byte("II*\x00"),
		[]byte("RIFF\x00\x00\x00\x00WEBPVP8 "),
		gif.Bytes(),
		{0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x4e, 0x20, 0x4e, 0x20, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := datasets.DecodeImage(data)
		if err != nil {
			return
		}
		if img.W < 1 || img.H < 1 || img.Stride < 3*img.W || len(img.Pix) < img.Stride*(img.H-1)+3*img.W {
			t.Fatalf("inconsistent image: %d×%d, stride %d, %d bytes", img.W, img.H, img.Stride, len(img.Pix))
		}
	})
}

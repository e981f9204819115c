package datasets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hymenoptera-go/tutorial/hymenoptera/datasets"
	"github.com/hymenoptera-go/tutorial/hymenoptera/internal/testenv"
)

func TestImageFolderMatchesTorchvision(t *testing.T) {
	var golden struct {
		Classes         []string
		Samples         [][2]any
		SamplesWithLoop int    `json:"samples_with_loop"`
		EmptyClassError string `json:"empty_class_error"`
	}
	readJSON(t, testenv.Fixture(t, "data", "folder.json"), &golden)
	root := filepath.Join(filepath.Dir(testenv.Fixture(t, "data", "folder.json")), "folder")
	f, err := datasets.NewImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes, golden.Classes) {
		t.Errorf("classes %q, torchvision %q", f.Classes, golden.Classes)
	}
	var got, want []string
	for _, s := range f.Samples {
		rel, _ := filepath.Rel(root, s.Path)
		got = append(got, rel+" "+f.Classes[s.Label])
	}
	for _, s := range golden.Samples {
		want = append(want, s[0].(string)+" "+golden.Classes[int(s[1].(float64))])
	}
	// The tree has a link to an ancestor (Zebra/z/loop -> ..), which torchvision follows until the kernel stops it
	// (golden.SamplesWithLoop samples); Go does not follow it, and lists what torchvision lists without the link.
	if !slices.Equal(got, want) {
		t.Errorf("samples:\n%s\ntorchvision's (without the loop; %d with it):\n%s", strings.Join(got, "\n"),
			golden.SamplesWithLoop, strings.Join(want, "\n"))
	}

	_, err = datasets.NewImageFolder(filepath.Join(filepath.Dir(root), "folder_empty_class"))
	if err == nil || !strings.Contains(err.Error(), "bees, wasps") {
		t.Errorf("a tree with classes without images: error %v; torchvision: %s", err, golden.EmptyClassError)
	}
}

func TestHymenopteraImageFolder(t *testing.T) {
	root := hymenoptera(t)
	for _, split := range []struct {
		name       string
		ants, bees int
	}{{"train", 123, 121}, {"val", 70, 83}} {
		f, err := datasets.NewImageFolder(filepath.Join(root, split.name))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Classes, []string{"ants", "bees"}) {
			t.Errorf("%s classes: %q", split.name, f.Classes)
		}
		counts := [2]int{}
		for _, s := range f.Samples {
			counts[s.Label]++
			if strings.HasSuffix(s.Path, ".gif") {
				t.Errorf("%s: %s is not an image ImageFolder takes", split.name, s.Path)
			}
			if s.Label != 0 && strings.Contains(s.Path, "/ants/") || s.Label != 1 && strings.Contains(s.Path, "/bees/") {
				t.Errorf("%s: %s labelled %d", split.name, s.Path, s.Label)
			}
		}
		if counts != [2]int{split.ants, split.bees} || f.Len() != split.ants+split.bees {
			t.Errorf("%s: %d ants and %d bees (%d samples), want %d and %d", split.name, counts[0], counts[1], f.Len(),
				split.ants, split.bees)
		}
	}
}

// syntheticFolder builds a class tree with every kind of file ImageFolder may meet: images in several formats and
// modes (copied from the format fixtures), nested directories, a GIF (not an image extension), and files with an
// image extension that do not decode.
func syntheticFolder(t *testing.T) (root string, bad []string) {
	t.Helper()
	formats := filepath.Join(filepath.Dir(testenv.Fixture(t, "data", "formats.json")), "formats")
	root = t.TempDir()
	put := func(name string, data []byte) {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fixture := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(formats, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	jpeg := fixture("rgb420.jpg")
	put("cats/gray.png", fixture("gray.png"))
	put("cats/cmyk.jpg", fixture("cmyk.jpg"))
	put("cats/palette.gif", fixture("first_frame.gif"))
	put("cats/nested/deeper/rgb.JPEG", jpeg)
	put("cats/truncated.jpg", jpeg[:len(jpeg)/2])
	put("dogs/empty.jpg", nil)
	put("dogs/text.jpg", []byte("this is not a JPEG\n"))
	put("dogs/alpha.png", fixture("rgba.png"))
	put("dogs/p/ycck.jpg", fixture("ycck.jpg"))
	return root, []string{"cats/truncated.jpg", "dogs/empty.jpg", "dogs/text.jpg"}
}

func TestImageFolderWithBadFiles(t *testing.T) {
	root, bad := syntheticFolder(t)
	f, err := datasets.NewImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, s := range f.Samples {
		rel, _ := filepath.Rel(root, s.Path)
		names = append(names, rel)
		img, err := f.Load(i)
		if slices.Contains(bad, rel) {
			if err == nil || !strings.Contains(err.Error(), s.Path) {
				t.Errorf("%s: error %v, want one naming the file", rel, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if img.W != 67 || img.H != 45 || len(img.Pix) < 67*45*3 {
			t.Errorf("%s: %d×%d image", rel, img.W, img.H)
		}
	}
	want := []string{"cats/cmyk.jpg", "cats/gray.png", "cats/truncated.jpg", "cats/nested/deeper/rgb.JPEG",
		"dogs/alpha.png", "dogs/empty.jpg", "dogs/text.jpg", "dogs/p/ycck.jpg"}
	if !slices.Equal(names, want) {
		t.Errorf("samples %q, want %q", names, want)
	}

	var warnings bytes.Buffer
	f, err = datasets.NewImageFolder(root, datasets.SkipUndecodable(&warnings))
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(want)-len(bad) {
		t.Errorf("%d samples kept, want %d", f.Len(), len(want)-len(bad))
	}
	for _, name := range bad {
		if !strings.Contains(warnings.String(), filepath.Join(root, name)) {
			t.Errorf("no warning about %s in:\n%s", name, warnings.String())
		}
	}
	for _, s := range f.Samples {
		if want := map[bool]int{true: 0, false: 1}[strings.Contains(s.Path, "/cats/")]; s.Label != want {
			t.Errorf("%s labelled %d", s.Path, s.Label)
		}
	}
}

func TestImageFolderErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := datasets.NewImageFolder(filepath.Join(root, "missing")); err == nil {
		t.Error("a missing root: no error")
	}
	if _, err := datasets.NewImageFolder(root); err == nil || !strings.Contains(err.Error(), "no class directory") {
		t.Errorf("a root without classes: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "ants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bees"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ants", "a.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.NewImageFolder(root); err == nil || !strings.Contains(err.Error(), "classes bees") {
		t.Errorf("an empty class directory: %v", err)
	}
}

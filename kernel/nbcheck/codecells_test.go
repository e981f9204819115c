package nbcheck

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// codeNotebook builds a notebook of markdown prose and code cells with the given sources.
func codeNotebook(t *testing.T, prose string, sources ...string) *Notebook {
	t.Helper()
	cells := []string{`{"cell_type": "markdown", "metadata": {}, "source": ` + jsonString(t, prose) + `}`}
	for _, src := range sources {
		cells = append(cells, `{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": `+
			jsonString(t, src)+`}`)
	}
	return mustParse(t, notebookJSON(cells...))
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const koreanCell = `%env HYMENOPTERA_EPOCHS 1
!echo "http://example.com/a // not a comment" \
  'it''s'
import "fmt"

// 데이터를 불러옵니다.
%%
/* 여러 줄
   주석 */
url := "http://example.com/x" // 주소
r := '/'   
fmt.Println(url, r, ` + "`raw // kept`" + `) /* 끝 */
`

const englishCell = `%env HYMENOPTERA_EPOCHS 1
!echo "http://example.com/a // not a comment" \
  'it''s'
import "fmt"

// Load the data.
// (Two lines of comment where the Korean has one.)
%%
url := "http://example.com/x" // address
r := '/'
fmt.Println(url, r, ` + "`raw // kept`" + `)
`

func TestCodeCellsEqualModuloComments(t *testing.T) {
	ko := codeNotebook(t, "한국어", koreanCell, "// 주석만 있는 셀\n", "%%\nfmt.Println(1)")
	en := codeNotebook(t, "English", englishCell, "%%\nfmt.Println(1) // one")
	if err := CodeCellsEqualModuloComments(ko, en); err != nil {
		t.Errorf("cells that differ only in comments, trailing spaces and a comment-only cell: %v", err)
	}
}

func TestCodeCellsEqualModuloCommentsReportsTheFirstDifference(t *testing.T) {
	for name, tc := range map[string]struct {
		a, b         string
		lineA, lineB int
		textA, textB string
	}{
		"string literal":    {`%%` + "\n" + `s := "// a"`, `%%` + "\n" + `s := "// b"`, 2, 2, `s := "// a"`, `s := "// b"`},
		"rune in a comment": {"%%\n// x\nr := 'a'", "%%\nr := 'b' // x", 3, 2, "r := 'a'", "r := 'b'"},
		"shell line url":    {"!curl http://a/x\n", "!curl http://a/y\n", 1, 1, "!curl http://a/x", "!curl http://a/y"},
		"env value":         {"%env A 1\n%%\nf()", "%env A 2\n%%\nf()", 1, 1, "%env A 1", "%env A 2"},
		"extra line":        {"%%\nf()\ng()", "%%\nf()", 3, 0, "g()", ""},
		"raw string":        {"%%\ns := `a\n// b`", "%%\ns := `a\n// c`", 3, 3, "// b`", "// c`"},
	} {
		t.Run(name, func(t *testing.T) {
			err := CodeCellsEqualModuloComments(codeNotebook(t, "", "%%\nsame()", tc.a), codeNotebook(t, "", "%%\nsame()", tc.b))
			var d *CodeDiff
			if !errors.As(err, &d) {
				t.Fatalf("error = %v, want a *CodeDiff", err)
			}
			want := CodeDiff{CodeCell: 1, CellA: 2, CellB: 2, LineA: tc.lineA, LineB: tc.lineB, TextA: tc.textA, TextB: tc.textB}
			if *d != want {
				t.Errorf("diff = %+v, want %+v", *d, want)
			}
			if !strings.Contains(d.Error(), "code cell 1") {
				t.Errorf("message %q does not name the code cell", d.Error())
			}
		})
	}
}

func TestCodeCellsEqualModuloCommentsCountsCells(t *testing.T) {
	err := CodeCellsEqualModuloComments(codeNotebook(t, "", "%%\nf()", "%%\ng()"), codeNotebook(t, "", "%%\nf()"))
	var d *CodeDiff
	if !errors.As(err, &d) || d.CodeCell != 1 || d.CellA != 2 || d.CellB != -1 {
		t.Errorf("error = %v, want code cell 1 missing from b", err)
	}
}

func TestStripCommentsKeepsLineNumbers(t *testing.T) {
	got := stripComments("\n// head\n%%\nx := 1 /* a\nb */ + 2\ny := 3\n\n")
	want := []codeLine{{3, "%%"}, {4, "x := 1"}, {5, " + 2"}, {6, "y := 3"}}
	if len(got) != len(want) {
		t.Fatalf("stripComments = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

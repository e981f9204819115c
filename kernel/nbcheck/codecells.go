package nbcheck

import (
	"fmt"
	"go/scanner"
	"go/token"
	"strings"
)

// CodeDiff says where two notebooks' code first differs, once comments are set aside.
type CodeDiff struct {
	CodeCell     int    // index among the compared code cells, from 0
	CellA, CellB int    // index of that cell in each notebook's cells (-1: the notebook has no such cell)
	LineA, LineB int    // 1-based line in each cell's source (0: past its end)
	TextA, TextB string // the differing lines, comments removed
}

func (d *CodeDiff) Error() string {
	switch {
	case d.CellA < 0 || d.CellB < 0:
		return fmt.Sprintf("code cell %d exists in one notebook only (cells %d and %d)", d.CodeCell, d.CellA, d.CellB)
	default:
		return fmt.Sprintf("code cell %d (cells %d and %d) differs at lines %d and %d:\n  a: %q\n  b: %q",
			d.CodeCell, d.CellA, d.CellB, d.LineA, d.LineB, d.TextA, d.TextB)
	}
}

// CodeCellsEqualModuloComments compares the code the two notebooks run, cell for cell, ignoring Go comments,
// comment-only lines and trailing whitespace: translations of one notebook may reword their comments, never their
// code. Code cells with nothing but comments and blank lines are skipped, as Jupyter runs nothing for them. It
// returns nil or the first difference, a *CodeDiff.
func CodeCellsEqualModuloComments(a, b *Notebook) error {
	ca, cb := strippedCodeCells(a), strippedCodeCells(b)
	for i := 0; i < max(len(ca), len(cb)); i++ {
		if i >= len(ca) || i >= len(cb) {
			d := &CodeDiff{CodeCell: i, CellA: -1, CellB: -1}
			if i < len(ca) {
				d.CellA = ca[i].cell
			} else {
				d.CellB = cb[i].cell
			}
			return d
		}
		x, y := ca[i].lines, cb[i].lines
		for j := 0; j < max(len(x), len(y)); j++ {
			var lx, ly codeLine
			if j < len(x) {
				lx = x[j]
			}
			if j < len(y) {
				ly = y[j]
			}
			if j >= len(x) || j >= len(y) || lx.text != ly.text {
				return &CodeDiff{CodeCell: i, CellA: ca[i].cell, CellB: cb[i].cell, LineA: lx.number,
					LineB: ly.number, TextA: lx.text, TextB: ly.text}
			}
		}
	}
	return nil
}

// strippedCell is a code cell's source without comments, blank-line runs at either end, or comment-only lines.
type strippedCell struct {
	cell  int
	lines []codeLine
}

// codeLine is one kept line and its 1-based number in the cell's source.
type codeLine struct {
	number int
	text   string
}

func strippedCodeCells(nb *Notebook) []strippedCell {
	var cells []strippedCell
	for i, c := range nb.Cells {
		if c.Type != "code" {
			continue
		}
		if lines := stripComments(c.Source.String()); len(lines) > 0 {
			cells = append(cells, strippedCell{cell: i, lines: lines})
		}
	}
	return cells
}

// stripComments removes the Go comments from a GoNB cell and returns its lines without trailing whitespace,
// dropping the lines that held only comments and the blank lines at either end. A GoNB cell mixes Go with lines
// for the kernel: "%%" (start of main), "%env NAME VALUE" and other "%" commands, and "!" shell commands (continued
// with a trailing backslash). Those are not Go (a shell line's "//" may be part of a URL, its quotes need not
// balance), so they are kept verbatim and only the Go between them goes through go/scanner, which knows where
// comments are and where string and rune literals hide a "//". (A "%" or "!" line inside a multi-line raw string
// would be taken for a kernel line; the notebooks have none.)
func stripComments(src string) []codeLine {
	lines := strings.Split(src, "\n")
	var kept []codeLine
	flushGo := func(start, end int) { // lines[start:end] are Go
		if start >= end {
			return
		}
		goSrc := strings.Join(lines[start:end], "\n")
		stripped := strings.Split(removeGoComments(goSrc), "\n")
		for k, line := range stripped {
			text := strings.TrimRight(line, " \t\r")
			if text == "" && strings.TrimSpace(lines[start+k]) != "" {
				continue // the line held only a comment
			}
			kept = append(kept, codeLine{number: start + k + 1, text: text})
		}
	}
	goStart, continued := 0, false
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if !continued && !strings.HasPrefix(trimmed, "%") && !strings.HasPrefix(trimmed, "!") {
			continue
		}
		if !continued {
			flushGo(goStart, i)
		}
		kept = append(kept, codeLine{number: i + 1, text: strings.TrimRight(line, " \t\r")})
		continued = strings.HasSuffix(trimmed, `\`)
		goStart = i + 1
	}
	flushGo(goStart, len(lines))
	for len(kept) > 0 && kept[0].text == "" {
		kept = kept[1:]
	}
	for len(kept) > 0 && kept[len(kept)-1].text == "" {
		kept = kept[:len(kept)-1]
	}
	return kept
}

// removeGoComments deletes every comment from Go source, keeping the newlines inside /* */ comments so that line
// numbers stay put. Source go/scanner cannot tokenize (an unterminated string, say) is handled as far as it gets:
// the comparison then sees the raw text.
func removeGoComments(src string) string {
	var b strings.Builder
	last := 0
	scanGo(src, scanner.ScanComments, func(start int, tok token.Token, lit string) bool {
		if tok != token.COMMENT {
			return true
		}
		end := start + len(lit)
		if strings.HasPrefix(lit, "//") {
			// The scanner drops carriage returns from the literal: the comment ends at the line's end.
			end = start + strings.IndexByte(src[start:]+"\n", '\n')
		} else if close := strings.Index(src[start+2:], "*/"); close >= 0 {
			end = start + 2 + close + 2
		}
		b.WriteString(src[last:start])
		b.WriteString(strings.Repeat("\n", strings.Count(src[start:end], "\n")))
		last = end
		return true
	})
	b.WriteString(src[last:])
	return b.String()
}

// scanGo calls fn with the byte offset, kind and literal of each token of Go source, until fn returns false or the
// source ends. Errors are ignored: source the scanner cannot tokenize is scanned as far as it gets.
func scanGo(src string, mode scanner.Mode, fn func(offset int, tok token.Token, lit string) bool) {
	file := token.NewFileSet().AddFile("cell.go", -1, len(src))
	var s scanner.Scanner
	s.Init(file, []byte(src), func(token.Position, string) {}, mode)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF || !fn(file.Offset(pos), tok, lit) {
			return
		}
	}
}

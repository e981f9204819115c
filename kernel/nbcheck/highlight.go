package nbcheck

import (
	"errors"
	"fmt"
	"go/token"
	"regexp"
	"strings"
)

// GoLexer is the Pygments lexer and the CodeMirror mode that highlight Go. GoNB (v0.11.5) leaves both empty in
// the language_info it reports, and nbconvert's HTML exporter then shows code cells as plain text, so whoever
// saves an executed notebook must fill them in.
const GoLexer = "go"

// CheckLanguageInfo fails unless the notebook's metadata.language_info names Go's Pygments lexer and CodeMirror
// mode, which the HTML export and the notebook front-ends highlight code cells with.
func (nb *Notebook) CheckLanguageInfo() error {
	info := nb.Metadata.LanguageInfo
	mode := info.CodeMirrorMode
	if m, ok := mode.(map[string]any); ok {
		mode = m["name"]
	}
	if info.PygmentsLexer != GoLexer || mode != GoLexer {
		return fmt.Errorf("metadata.language_info has pygments_lexer %q and codemirror_mode %v, want %q for both "+
			"(Go syntax highlighting)", info.PygmentsLexer, info.CodeMirrorMode, GoLexer)
	}
	return nil
}

var (
	// goHighlightBlock is the class nbconvert gives a code cell's highlighted block: " highlight hl-LEXER".
	goHighlightBlock = regexp.MustCompile(`class="[^"]*\bhl-go\b`)
	// funcKeyword is how Pygments' Go lexer marks the func keyword (a declaration keyword, class "kd").
	funcKeyword = regexp.MustCompile(`<span class="kd">func</span>`)
)

// CheckGoHighlighting fails unless the HTML export shows code cells highlighted as Go: blocks of Pygments' Go
// lexer and, when a code cell uses the func keyword, that keyword marked as one.
func CheckGoHighlighting(nb *Notebook, html []byte) error {
	if !goHighlightBlock.Match(html) {
		return errors.New("the HTML export has no code highlighted as Go (no hl-go block): check language_info")
	}
	if nb.usesFuncKeyword() && !funcKeyword.Match(html) {
		return errors.New(`the HTML export does not mark the func keyword (<span class="kd">func</span>) although ` +
			"a code cell uses it: Go is not highlighted as Go")
	}
	return nil
}

// usesFuncKeyword reports whether a code cell has the Go keyword func (not the word in a comment or string).
func (nb *Notebook) usesFuncKeyword() bool {
	for _, cell := range nb.Cells {
		if cell.Type != "code" || !strings.Contains(cell.Source.String(), "func") {
			continue
		}
		found := false
		scanGo(cell.Source.String(), 0, func(_ int, tok token.Token, _ string) bool {
			found = tok == token.FUNC
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

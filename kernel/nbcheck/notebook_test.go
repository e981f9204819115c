package nbcheck

import (
	"strings"
	"testing"
)

// notebookJSON wraps cells (JSON objects) into a minimal nbformat 4 notebook.
func notebookJSON(cells ...string) []byte {
	return []byte(`{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [` + strings.Join(cells, ",") + `]}`)
}

func mustParse(t *testing.T, data []byte) *Notebook {
	t.Helper()
	nb, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return nb
}

const (
	markdownCell = `{"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "text"]}`
	okCell       = `{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "%%\nfmt.Println(\"hi\")",
		"outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]}`
	blankCell  = `{"cell_type": "code", "execution_count": null, "metadata": {}, "source": ["  \n"], "outputs": []}`
	notRunCell = `{"cell_type": "code", "execution_count": null, "metadata": {}, "source": ["%%\n", "fmt.Println(2)"],
		"outputs": []}`
	// gonbCompileErrorCell is shaped like GoNB's report of a compiler error: an HTML report marked as standard
	// error, then an error output whose value only says that go build failed.
	gonbCompileErrorCell = `{"cell_type": "code", "execution_count": 2, "metadata": {},
		"source": ["%%\n", "var x int = \"s\"\n"],
		"outputs": [
			{"output_type": "display_data", "metadata": {}, "data": {"text/html": [
				"<style>.gonb-err-location { color: red; }</style>\n",
				"<div class=\"jp-RenderedText\" data-mime-type=\"application/vnd.jupyter.stderr\">",
				"<div>Cell[2]: Line 2 ./main.go:11:13: cannot use &#34;s&#34; as int value</div></div>"]}},
			{"output_type": "error", "ename": "ERROR", "evalue": "failed to run \"go build\": exit status 1",
			 "traceback": ["failed to run \"go build\": exit status 1"]}]}`
	panicCell = `{"cell_type": "code", "execution_count": 3, "metadata": {}, "source": "%%\npanic(\"boom\")",
		"outputs": [
			{"output_type": "stream", "name": "stderr", "text": "panic: "},
			{"output_type": "stream", "name": "stderr", "text": "boom\n\ngoroutine 1 [running]:\n"},
			{"output_type": "error", "ename": "ERROR", "evalue": "exit status 2",
			 "traceback": ["\u001b[0;31mexit status 2\u001b[0m", "\u001b[1mmore\u001b[0m"]}]}`
)

func TestParseJoinsMultilineSources(t *testing.T) {
	nb := mustParse(t, notebookJSON(markdownCell, okCell))
	if got := nb.Cells[0].Source.String(); got != "# Title\ntext" {
		t.Errorf("list source = %q", got)
	}
	if got := nb.Cells[1].Source.String(); got != "%%\nfmt.Println(\"hi\")" {
		t.Errorf("string source = %q", got)
	}
	if got := nb.Stdout(); got != "hi\n" {
		t.Errorf("Stdout() = %q", got)
	}
}

func TestParseRejectsOtherFormats(t *testing.T) {
	for _, bad := range []string{`not json`, `{"nbformat": 3, "cells": []}`,
		`{"nbformat": 4, "cells": [{"cell_type": "code", "source": 7}]}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) succeeded", bad)
		}
	}
}

func TestFirstFailureAcceptsCleanRun(t *testing.T) {
	nb := mustParse(t, notebookJSON(markdownCell, okCell, blankCell))
	if f := nb.FirstFailure(); f != nil {
		t.Fatalf("FirstFailure() = %v, want nil (blank cells are not executed by Jupyter)", f)
	}
	if got := nb.CodeCells(); got != 1 {
		t.Errorf("CodeCells() = %d, want 1", got)
	}
}

func TestFirstFailureFindsCellThatDidNotRun(t *testing.T) {
	nb := mustParse(t, notebookJSON(okCell, notRunCell))
	f := nb.FirstFailure()
	if f == nil || f.Index != 1 || f.Reason != "did not run" || f.Prompt != nil {
		t.Fatalf("FirstFailure() = %+v, want cell 1 that did not run", f)
	}
}

func TestFirstFailureReportsGoNBCompilerError(t *testing.T) {
	nb := mustParse(t, notebookJSON(markdownCell, okCell, gonbCompileErrorCell, notRunCell))
	f := nb.FirstFailure()
	if f == nil {
		t.Fatal("FirstFailure() = nil, want the compile error")
	}
	if f.Index != 2 || f.Prompt == nil || *f.Prompt != 2 {
		t.Errorf("failure at cell %d (prompt %v), want cell 2, In [2]", f.Index, f.Prompt)
	}
	msg := f.Error()
	for _, want := range []string{
		"cell 2 (In [2]) raised an error",
		`ERROR: failed to run "go build": exit status 1`,
		`var x int = "s"`,                              // source head
		`./main.go:11:13: cannot use "s" as int value`, // the HTML report, as text with entities decoded
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "gonb-err-location") || strings.Contains(msg, "<div") {
		t.Errorf("failure message keeps HTML/CSS:\n%s", msg)
	}
}

func TestFirstFailureReportsPanicWithoutColourCodes(t *testing.T) {
	nb := mustParse(t, notebookJSON(okCell, panicCell))
	f := nb.FirstFailure()
	if f == nil || f.Index != 1 {
		t.Fatalf("FirstFailure() = %+v, want cell 1", f)
	}
	msg := f.Error()
	for _, want := range []string{"panic: boom", "exit status 2\n    more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\x1b") {
		t.Errorf("failure message keeps terminal colour codes: %q", msg)
	}
}

func TestSourceHeadQuotesFirstLinesOnly(t *testing.T) {
	f := &CellFailure{Source: "1\n2\n3\n4\n5\n6\n7\n"}
	if got, want := f.SourceHead(), "1\n2\n3\n4\n5\n… (2 more lines)"; got != want {
		t.Errorf("SourceHead() = %q, want %q", got, want)
	}
}

func TestLastLinesKeepsTheEnd(t *testing.T) {
	long := strings.Repeat("x\n", 40) + "the cause"
	got := lastLines(long, 3)
	if !strings.HasSuffix(got, "x\nx\nthe cause") || !strings.HasPrefix(got, "… (38 lines before)") {
		t.Errorf("lastLines = %q", got)
	}
}

func TestFailureAtDescribesACellFailedFromOutside(t *testing.T) {
	nb := mustParse(t, notebookJSON(okCell, panicCell))
	f := nb.FailureAt(1, "failed", "CellTimeoutError: A cell timed out")
	if f == nil || f.Index != 1 || *f.Prompt != 3 {
		t.Fatalf("FailureAt(1) = %+v", f)
	}
	msg := f.Error()
	for _, want := range []string{"cell 1 (In [3]) failed: CellTimeoutError", `panic("boom")`, "panic: boom"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if nb.FailureAt(2, "failed", "x") != nil || nb.FailureAt(-1, "failed", "x") != nil {
		t.Error("FailureAt accepted an index outside the notebook")
	}
}

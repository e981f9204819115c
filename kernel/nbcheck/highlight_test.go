package nbcheck

import (
	"strings"
	"testing"
)

func withLanguageInfo(info string, cells ...string) []byte {
	return []byte(`{"nbformat": 4, "nbformat_minor": 5, "metadata": {"language_info": ` + info + `}, "cells": [` +
		strings.Join(cells, ",") + `]}`)
}

// gonbLanguageInfo is what GoNB v0.11.5 reports, and Jupyter saves, when a notebook runs.
const gonbLanguageInfo = `{"codemirror_mode": "", "file_extension": ".go", "mimetype": "text/x-go", "name": "go",
	"nbconvert_exporter": "", "pygments_lexer": "", "version": "go1.26.8-X:simd"}`

func TestCheckLanguageInfo(t *testing.T) {
	for info, ok := range map[string]bool{
		gonbLanguageInfo: false,
		`{"name": "go", "pygments_lexer": "go", "codemirror_mode": "go"}`:           true,
		`{"name": "go", "pygments_lexer": "go", "codemirror_mode": {"name": "go"}}`: true,
		`{"name": "go", "pygments_lexer": "go"}`:                                    false,
		`{"name": "go", "pygments_lexer": "text", "codemirror_mode": "go"}`:         false,
	} {
		err := mustParse(t, withLanguageInfo(info, okCell)).CheckLanguageInfo()
		if (err == nil) != ok {
			t.Errorf("language_info %s: CheckLanguageInfo = %v", info, err)
		}
	}
}

// Shaped like nbconvert's export of a code cell, with and without a lexer.
const (
	highlightedFunc = `<div class=" highlight hl-go"><pre><span></span><span class="kd">func</span><span class="w"> ` +
		`</span><span class="nf">f</span><span class="p">()</span></pre></div>`
	plainFunc = `<div class=" highlight hl-"><pre><span></span>func f()</pre></div>`
)

func TestCheckGoHighlighting(t *testing.T) {
	withFunc := mustParse(t, notebookJSON(`{"cell_type": "code", "execution_count": 1, "metadata": {},
		"source": "func f() {}", "outputs": []}`))
	commentOnly := mustParse(t, notebookJSON(`{"cell_type": "code", "execution_count": 1, "metadata": {},
		"source": "%%\n// no func here\nfmt.Println(\"func\")", "outputs": []}`))
	for _, tc := range []struct {
		name string
		nb   *Notebook
		html string
		ok   bool
	}{
		{"highlighted", withFunc, highlightedFunc, true},
		{"plain text", withFunc, plainFunc, false},
		{"Go block without a marked func", withFunc, `<div class=" highlight hl-go"><pre>func f()</pre></div>`, false},
		{"func only in a comment and a string", commentOnly, `<div class=" highlight hl-go"><pre>x</pre></div>`, true},
	} {
		if err := CheckGoHighlighting(tc.nb, []byte(tc.html)); (err == nil) != tc.ok {
			t.Errorf("%s: CheckGoHighlighting = %v", tc.name, err)
		}
	}
}

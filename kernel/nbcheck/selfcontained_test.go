package nbcheck

import (
	"reflect"
	"strings"
	"testing"
)

func TestExternalReferencesFindsWhatAPageLoads(t *testing.T) {
	// The head nbconvert 6.5's "lab" template writes on Debian, plus the other ways a page loads something.
	page := `<!DOCTYPE html><html><head>
<script src="file:///usr/share/javascript/requirejs/require.min.js"></script>
<script type="text/javascript" SRC='https://cdn.example/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe'> </script>
<script src=//cdn.example/x.js></script>
<link rel="stylesheet" href="https://fonts.example/css?family=Roboto">
<link href="theme.css" rel="stylesheet" type="text/css">
<style>@import url("file:///usr/share/jupyter/lab.css"); @import 'print.css';
@font-face { font-family: X; src: url(data:font/woff2;base64,AAAA) format("woff2"), url("https://fonts.example/x.woff2"); }
</style></head><body></body></html>`
	want := []ExternalReference{
		{"script", "file:///usr/share/javascript/requirejs/require.min.js"},
		{"script", "https://cdn.example/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe"},
		{"script", "//cdn.example/x.js"},
		{"stylesheet", "https://fonts.example/css?family=Roboto"},
		{"stylesheet", "theme.css"},
		{"@import", "file:///usr/share/jupyter/lab.css"},
		{"@import", "print.css"},
		{"font", "https://fonts.example/x.woff2"},
	}
	if got := ExternalReferences([]byte(page)); !reflect.DeepEqual(got, want) {
		t.Errorf("ExternalReferences =\n%v\nwant\n%v", got, want)
	}
	err := CheckSelfContained([]byte(page))
	if err == nil || !strings.Contains(err.Error(), "script file:///usr/share/javascript/requirejs/require.min.js") ||
		!strings.Contains(err.Error(), "and 3 more") {
		t.Errorf("CheckSelfContained = %v, want it to name the first references and count the rest", err)
	}
}

func TestExternalReferencesAcceptsASelfContainedPage(t *testing.T) {
	page := `<html><head><meta charset="utf-8"><title>t</title>
<script>var s = document.createElement('script'); s.src = "https://not-loaded-until-run.example";</script>
<style>.a { background: url(data:image/png;base64,iVBORw0KGgo=) }
@font-face { font-family: Y; src: url('data:font/woff2;base64,AAAA') }</style>
<link rel="canonical" href="https://example.org/notebook.html">
</head><body><a href="https://pytorch.org/tutorials/">the tutorial</a>
<img src="data:image/png;base64,iVBORw0KGgo="><a href="#section">§</a></body></html>`
	if refs := ExternalReferences([]byte(page)); len(refs) != 0 {
		t.Errorf("ExternalReferences = %v, want none: links, data: URIs and inline code load nothing", refs)
	}
	if err := CheckSelfContained([]byte(page)); err != nil {
		t.Error(err)
	}
}

package nbcheck

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// An HTML export is published as one file: whatever it loads from the exporting machine's files (nbconvert's
// Debian defaults: file:///usr/share/javascript/...) or from the network is missing wherever else it is opened.
// These patterns find what a page loads, as opposed to what it links to (<a href> is fine).
var (
	// scriptSrc: <script src=...>, <img>/<iframe>/... are data: URIs in an export and not looked at.
	scriptSrc = regexp.MustCompile(`(?is)<script\b[^>]*?\bsrc\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	// linkTag: <link ...>, of which those with rel=stylesheet (or preload/icon of a font) load something.
	linkTag  = regexp.MustCompile(`(?is)<link\b[^>]*>`)
	linkRel  = regexp.MustCompile(`(?is)\brel\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	linkHref = regexp.MustCompile(`(?is)\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	// cssImport: @import "x" or @import url(x), in a <style> or a style attribute.
	cssImport = regexp.MustCompile(`(?is)@import\s+(?:url\(\s*)?("[^"]*"|'[^']*'|[^\s;)]+)`)
	// fontFace: the url(...) sources of an @font-face rule.
	fontFace = regexp.MustCompile(`(?is)@font-face\s*\{[^}]*\}`)
	cssURL   = regexp.MustCompile(`(?is)url\(\s*("[^"]*"|'[^']*'|[^)\s]+)\s*\)`)
)

// ExternalReference is one thing a page loads from outside itself.
type ExternalReference struct {
	Kind string // "script", "stylesheet", "@import" or "font"
	URL  string
}

func (r ExternalReference) String() string { return r.Kind + " " + r.URL }

// ExternalReferences lists the scripts, stylesheets, CSS imports and fonts that a page loads from a file:// or
// remote (http, https, protocol-relative) URL. Inline ones and data: URIs are not listed. Relative URLs are
// listed too: a published page has nothing beside it.
func ExternalReferences(page []byte) []ExternalReference {
	text := string(page)
	var refs []ExternalReference
	add := func(kind, quoted string) {
		if url := unquote(quoted); loadsFromOutside(url) {
			refs = append(refs, ExternalReference{kind, url})
		}
	}
	for _, m := range scriptSrc.FindAllStringSubmatch(text, -1) {
		add("script", m[1])
	}
	for _, tag := range linkTag.FindAllString(text, -1) {
		rel := linkRel.FindStringSubmatch(tag)
		href := linkHref.FindStringSubmatch(tag)
		if rel == nil || href == nil {
			continue
		}
		switch r := strings.ToLower(unquote(rel[1])); {
		case strings.Contains(r, "stylesheet"):
			add("stylesheet", href[1])
		case strings.Contains(r, "preload"), strings.Contains(r, "icon"), strings.Contains(r, "import"):
			add(r, href[1])
		}
	}
	for _, m := range cssImport.FindAllStringSubmatch(text, -1) {
		add("@import", m[1])
	}
	for _, rule := range fontFace.FindAllString(text, -1) {
		for _, m := range cssURL.FindAllStringSubmatch(rule, -1) {
			add("font", m[1])
		}
	}
	return refs
}

// CheckSelfContained fails when a page loads anything from outside itself, naming what.
func CheckSelfContained(page []byte) error {
	refs := ExternalReferences(page)
	if len(refs) == 0 {
		return nil
	}
	const shown = 5
	var names []string
	for i, r := range refs {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(refs)-shown))
			break
		}
		names = append(names, r.String())
	}
	return fmt.Errorf("the HTML export is not self-contained: it loads %s", strings.Join(names, ", "))
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(html.UnescapeString(s))
}

// loadsFromOutside reports whether a URL names something other than the page's own content: anything but a
// data: URI or an in-page fragment.
func loadsFromOutside(url string) bool {
	lower := strings.ToLower(url)
	return url != "" && !strings.HasPrefix(lower, "data:") && !strings.HasPrefix(url, "#")
}

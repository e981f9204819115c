package progress

import "testing"

// TestParseReadsWhatHTMLWrites: a report survives HTML's escaping (a quote in the title) inside other markup;
// the attributes may come in either order; other elements and broken JSON are errors.
func TestParseReadsWhatHTMLWrites(t *testing.T) {
	want := Report{Title: `fine"tune`, Epoch: 1, Epochs: 3, Phase: "val", Batch: 2, Batches: 5, Loss: 0.25,
		Acc: 0.75, Elapsed: 12.5, EpochSeconds: 6, ETA: 9, BestEpoch: -1}
	got, err := Parse("<p>before</p>" + want.HTML("<b>fine&quot;tune</b> epoch 1"))
	if err != nil || got != want {
		t.Errorf("Parse = %+v, %v; want %+v", got, err, want)
	}
	swapped := `<div data-progress="{&quot;title&quot;:&quot;x&quot;,&quot;eta&quot;:-1}" class="hymenoptera-progress">`
	if got, err := Parse(swapped); err != nil || got.Title != "x" || got.ETA != -1 {
		t.Errorf("attributes in the other order: %+v, %v", got, err)
	}
	for _, bad := range []string{`<div class="other" data-progress="{}">`, `<div class="hymenoptera-progress" data-progress="{nope">`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

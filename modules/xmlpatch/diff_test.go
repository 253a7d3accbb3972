package xmlpatch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// TestMaskedDiffHeaders: hunk headers count the new file's lines right (go-udiff v0.4.1 puts
// the third hunk below at +21; GNU diff -u says +23), and secrets are masked on context lines.
func TestMaskedDiffHeaders(t *testing.T) {
	var a []string
	for i := 1; i <= 30; i++ {
		a = append(a, fmt.Sprintf("  <l%d>v</l%d>", i, i))
	}
	a[22] = "  <password>hunter2</password>"
	b := append([]string(nil), a...)
	b[4] = "  <l5>changed</l5>"
	b = append(b[:7], append([]string{"  <new/>"}, b[7:]...)...)
	b[25] = "  <l25>changed</l25>"
	old, err := xmldoc.ParseString("<r>\n" + strings.Join(a, "\n") + "\n</r>\n")
	if err != nil {
		t.Fatal(err)
	}
	nw, err := xmldoc.ParseString("<r>\n" + strings.Join(b, "\n") + "\n</r>\n")
	if err != nil {
		t.Fatal(err)
	}
	d := MaskedDiff("f.xml", old, nw)
	var headers []string
	for _, l := range strings.Split(d, "\n") {
		if strings.HasPrefix(l, "@@") {
			headers = append(headers, l)
		}
	}
	if got, want := strings.Join(headers, " "), "@@ -3,9 +3,10 @@ @@ -23,7 +24,7 @@"; got != want {
		t.Errorf("headers %q, want %q\n%s", got, want, d)
	}
	if strings.Contains(d, "hunter2") || !strings.Contains(d, " <password>(sensitive)</password>") {
		t.Errorf("context line not masked:\n%s", d)
	}
}

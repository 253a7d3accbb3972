package fileedit

import (
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
)

func TestMaskLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"db.password=wso2carbon", "db.password=(sensitive)"},
		{"db.password = wso2carbon\r", "db.password = (sensitive)\r"},
		{"#db.password=old", "#db.password=(sensitive)"},
		{"export DB_PASSWORD=\"x y\"", "export DB_PASSWORD=(sensitive)"},
		{"spark.authenticate.secret\tabc", "spark.authenticate.secret\t(sensitive)"},
		{`  "apiToken": "abc",`, `  "apiToken": (sensitive)`},
		{"<Password>admin</Password>", "<Password>(sensitive)</Password>"},
		{`<Property name="ConnectionPassword">admin</Property>`, `<Property name="ConnectionPassword">(sensitive)</Property>`},
		{`<svn password="p&amp;w" user="u"/>`, `<svn password="(sensitive)" user="u"/>`},
		{"user=admin", "user=admin"},
		{"# The password policy", "# The password policy"}, // prose: the first word is no secret name
		{"log4j.rootLogger=INFO", "log4j.rootLogger=INFO"},
	}
	for _, tt := range tests {
		if got := MaskLine(tt.in); got != tt.want {
			t.Errorf("MaskLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskDiffLines(t *testing.T) {
	h := engine.NewHost("n1", local.New(), "r", t.TempDir(), nil)
	h.AddSecret("hunter2")
	diff := engine.Diff("f", "a=1\nk=abc\\\n  def\nz=hunter2\n", "a=2\nk=abc\\\n  def\nz=hunter2\n")
	got := MaskDiffLines(h, diff, LineMask{2: "k=" + engine.Mask, 3: "  " + engine.Mask}, LineMask{2: "k=" + engine.Mask, 3: "  " + engine.Mask})
	for _, s := range []string{"abc", "def", "hunter2"} {
		if strings.Contains(got, s) {
			t.Errorf("masked diff shows %q:\n%s", s, got)
		}
	}
	if !strings.Contains(got, "+a=2\n") || !strings.Contains(got, " k=(sensitive)\n") {
		t.Errorf("masked diff:\n%s", got)
	}
}

package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot walks up from the test's directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// reference returns the folder of real WSO2 files: $ISAPLAY_WSO2_REFERENCE, else
// <repo>/../shared/wso2-reference. A test needing it fails when it is missing.
func reference(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ISAPLAY_WSO2_REFERENCE")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared", "wso2-reference")
	}
	if _, err := os.Stat(filepath.Join(dir, "repository", "conf", "axis2", "axis2.xml")); err != nil {
		t.Fatalf("WSO2 reference files not found (set ISAPLAY_WSO2_REFERENCE): %v", err)
	}
	return dir
}

// nodeConfig says how a stand-in node's real config files are edited.
type nodeConfig struct {
	ip      string
	members []string // WKA member IPs, port 4000
	domain  string
	// singleModeLeftOn keeps event-processor.xml's <mode name="Single" enable="true">, the
	// C7 ordering trap.
	singleModeLeftOn bool
	// haHostsLeft keeps the HA eventSync and management hostName at the shipped 0.0.0.0.
	haHostsLeft bool
	// symlink sets carbon.das.symbolic.link (C8c).
	symlink string
	// home is where the node is made; a fresh temporary directory when empty.
	home string
}

// node is a fake product home with the stand-in as bin/wso2server.sh.
type node struct {
	home string
}

func (n node) path(rel string) string { return filepath.Join(n.home, filepath.FromSlash(rel)) }

// newNode copies the real configuration files into a fresh home and applies the pattern-2
// edits (C6, C7, C8b) the way the playbook does, by exact replacements that must each apply.
func newNode(t *testing.T, cfg nodeConfig) node {
	t.Helper()
	ref := reference(t)
	n := node{home: cfg.home}
	if n.home == "" {
		n.home = t.TempDir()
	}
	copyFile := func(src, dst string, mode os.FileMode, edits ...[3]string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, e := range edits {
			count := 1
			if e[2] != "" {
				count = len(e[2])
			}
			if strings.Count(text, e[0]) < count {
				t.Fatalf("%s: %q occurs fewer than %d times", src, e[0], count)
			}
			text = strings.Replace(text, e[0], e[1], count)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	var members strings.Builder
	members.WriteString("<members>\r\n")
	for _, m := range cfg.members {
		members.WriteString("            <member>\r\n                <hostName>" + m + "</hostName>\r\n                <port>4000</port>\r\n            </member>\r\n")
	}
	members.WriteString("        </members>")
	oldMembers := "<members>\r\n            <member>\r\n                <hostName>127.0.0.1</hostName>\r\n                <port>4000</port>\r\n            </member>\r\n        </members>"
	copyFile(filepath.Join(ref, "repository/conf/axis2/axis2.xml"), n.path("repository/conf/axis2/axis2.xml"), 0o644,
		[3]string{"                enable=\"false\">", "                enable=\"true\">"},
		[3]string{`<parameter name="membershipScheme">multicast</parameter>`, `<parameter name="membershipScheme">wka</parameter>`},
		[3]string{`<parameter name="domain">wso2.carbon.domain</parameter>`, `<parameter name="domain">` + cfg.domain + `</parameter>`},
		[3]string{`<parameter name="localMemberHost">127.0.0.1</parameter>`, `<parameter name="localMemberHost">` + cfg.ip + `</parameter>`},
		[3]string{oldMembers, members.String()},
	)
	ep := [][3]string{{`<mode name="HA" enable="false">`, `<mode name="HA" enable="true">`}}
	if !cfg.haHostsLeft {
		// The first two hostNames are HA eventSync and management ("xx": replace two).
		ep = append(ep, [3]string{`<hostName>0.0.0.0</hostName>`, `<hostName>` + cfg.ip + `</hostName>`, "xx"})
	}
	if !cfg.singleModeLeftOn {
		ep = append(ep, [3]string{`<mode name="Single" enable="true">`, `<mode name="Single" enable="false">`})
	}
	copyFile(filepath.Join(ref, "repository/conf/event-processor.xml"), n.path("repository/conf/event-processor.xml"), 0o644, ep...)
	copyFile(filepath.Join(ref, "repository/conf/carbon.xml"), n.path("repository/conf/carbon.xml"), 0o644)
	copyFile(filepath.Join(ref, "repository/conf/analytics/spark/spark-defaults.conf"), n.path("repository/conf/analytics/spark/spark-defaults.conf"), 0o644,
		[3]string{"carbon.spark.master.count  1", "carbon.spark.master.count  2"},
		[3]string{"# carbon.das.symbolic.link /home/ubuntu/das/das_symlink/", symlinkLine(cfg.symlink)})
	copyFile(filepath.Join(ref, "bin/load-spark-env-vars.sh"), n.path("bin/load-spark-env-vars.sh"), 0o755)
	copyFile(filepath.Join(repoRoot(t), "testdata/standin/wso2server.sh"), n.path("bin/wso2server.sh"), 0o755)
	return n
}

func symlinkLine(p string) string {
	if p == "" {
		return "# carbon.das.symbolic.link /home/ubuntu/das/das_symlink/"
	}
	return "carbon.das.symbolic.link " + p
}

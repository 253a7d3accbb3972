package xmlpatch

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/memo"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

const carbonPath = "/opt/wso2/repository/conf/carbon.xml"

// depsyncOps is the deployment-synchronizer edit of carbon.xml that pattern 2 makes on every
// analytics node.
func depsyncOps(svnURL string) []xmldoc.Op {
	ds := "/c:Server/c:DeploymentSynchronizer/c:"
	var ops []xmldoc.Op
	for _, kv := range [][2]string{{"Enabled", "true"}, {"AutoCommit", "false"}, {"AutoCheckout", "true"},
		{"RepositoryType", "svn"}, {"SvnUrl", svnURL}, {"SvnUser", "wso2"}, {"SvnPassword", "s3cret"}, {"SvnUrlAppendTenantId", "true"}} {
		ops = append(ops, xmldoc.Op{Kind: xmldoc.OpSetText, XPath: ds + kv[0], Value: kv[1]})
	}
	return ops
}

// TestEditMemo: the same path, bytes, operations and namespaces are served from the cache with
// what a fresh computation gives; one byte, one value, the path or a namespace changed is
// computed anew.
func TestEditMemo(t *testing.T) {
	_, carbon := wso2ref.Copy(t, "repository/conf/carbon.xml")
	oneByte := bytes.Clone(carbon)
	i := bytes.Index(oneByte, []byte("<!--")) + 5
	oneByte[i] ^= 1
	otherNS := map[string]string{"c": "http://example.com/other"}
	base := depsyncOps("http://svn:3690/repos/")
	cases := []struct {
		name    string
		path    string
		data    []byte
		ops     []xmldoc.Op
		ns      map[string]string
		wantHit bool
	}{
		{"first", carbonPath, carbon, base, carbonNS, false},
		{"again", carbonPath, carbon, depsyncOps("http://svn:3690/repos/"), carbonNS, true},
		{"one byte changed", carbonPath, oneByte, base, carbonNS, false},
		{"another op value", carbonPath, carbon, depsyncOps("http://svn:3690/repos2/"), carbonNS, false},
		{"another path", "/opt/other/carbon.xml", carbon, base, carbonNS, false},
		{"another namespace", carbonPath, carbon, base, otherNS, false},
	}
	edits = memo.New[edited](editCacheMax)
	var first edited
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, hit, gotErr := editFile(context.Background(), c.path, c.data, engine.SHA256(c.data), c.ops, c.ns)
			want, wantErr := computeEdit(c.path, c.data, c.ops, c.ns)
			if hit != c.wantHit {
				t.Errorf("hit = %v, want %v", hit, c.wantHit)
			}
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || got != want {
				t.Fatalf("cached outcome differs from a fresh computation:\n got %+v, %v\nwant %+v, %v", got, gotErr, want, wantErr)
			}
			if i == 0 {
				first = got
				if got.inSync || got.changed == 0 || got.diff == "" {
					t.Fatalf("the base edit changes nothing: %+v", got)
				}
			} else if !c.wantHit && wantErr == nil && got == first {
				t.Error("a different input produced the base outcome")
			}
		})
	}
}

// TestCheckPerHost: hosts whose checks share a cached edit still get their own bytes and their
// own redaction.
func TestCheckPerHost(t *testing.T) {
	path, _ := wso2ref.Copy(t, "repository/conf/carbon.xml")
	a := task(path, carbonNS,
		blk("set_text", "xpath", "/c:Server/c:DeploymentSynchronizer/c:Enabled", "value", "true"),
		blk("set_text", "xpath", "/c:Server/c:DeploymentSynchronizer/c:SvnUser", "value", "deployer"))
	edits = memo.New[edited](editCacheMax)
	plain := check(t, newHost(t), a)
	masked := check(t, newHost(t, "deployer"), a)
	if edits.Len() != 1 {
		t.Fatalf("%d edits cached, want the one both hosts share", edits.Len())
	}
	if !strings.Contains(plain.Diff, "deployer") || strings.Contains(masked.Diff, "deployer") {
		t.Errorf("redaction is not per host:\nplain:\n%s\nmasked:\n%s", plain.Diff, masked.Diff)
	}
	want := bytes.Clone(masked.Effects[0].Data)
	plain.Effects[0].Data[0] = 'X'
	if !bytes.Equal(masked.Effects[0].Data, want) || !bytes.Equal(masked.Private.(*private).data, want) {
		t.Error("changing one host's planned bytes changed another's")
	}
}

// BenchmarkEdit30Hosts is the pure part of xml_patch's Check on 30 hosts holding the same
// carbon.xml and getting the same operations, as one run does: computed for every host
// (uncached) or once and then reused (memo, a fresh cache per run).
func BenchmarkEdit30Hosts(b *testing.B) {
	_, carbon := wso2ref.Copy(b, "repository/conf/carbon.xml")
	ops := depsyncOps("http://svn:3690/repos/")
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			for range 30 {
				_ = engine.SHA256(carbon)
				if _, err := computeEdit(carbonPath, carbon, ops, carbonNS); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		for b.Loop() {
			edits = memo.New[edited](editCacheMax)
			for range 30 {
				if _, _, err := editFile(context.Background(), carbonPath, carbon, engine.SHA256(carbon), ops, carbonNS); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

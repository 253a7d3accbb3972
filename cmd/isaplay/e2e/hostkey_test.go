package e2e

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestChangedHostKeyRefused restarts n2 with a new host key that known_hosts does not hold:
// plan and apply (also with --host-key=accept-new) fail with exit 1 and an error naming n2, the
// known_hosts file and the new key's SHA256 fingerprint; no node is touched, no run is
// journaled, no lock is taken and known_hosts is left as it was.
func TestChangedHostKeyRefused(t *testing.T) {
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(editTasks...))
	before := s.snapshots()
	n2 := s.c.Nodes[1]
	old := ssh.FingerprintSHA256(n2.HostKey)
	if err := n2.Restart(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(n2.HostKey)
	if fp == old {
		t.Fatal("the restarted node kept its host key")
	}
	known, err := os.ReadFile(s.c.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}

	oneLine := regexp.MustCompile(`(?m)^.*\bn2\b.*` + regexp.QuoteMeta(s.c.KnownHosts) + `.*` + regexp.QuoteMeta(fp))
	for _, args := range [][]string{
		{"plan", pb},
		{"apply", "--yes", pb},
		{"--host-key=accept-new", "apply", "--yes", pb},
	} {
		r := s.isaplay(nil, args...)
		mustExit(t, r, 1)
		// One line names the host, the file and the offered key's fingerprint.
		if !oneLine.MatchString(r.stderr) {
			t.Errorf("%s: no error line naming n2, %s and %s:\n%s", strings.Join(args, " "), s.c.KnownHosts, fp, r)
		}
		if strings.Contains(r.stdout+r.stderr, "host key for n1") || strings.Contains(r.stdout+r.stderr, "host key for n3") {
			t.Errorf("%s: a host key error is blamed on a node whose key did not change:\n%s", strings.Join(args, " "), r)
		}
		if strings.Contains(r.stdout, "Applying run") {
			t.Errorf("%s: an apply started although n2's key changed:\n%s", strings.Join(args, " "), r)
		}
	}
	s.requireTrees(before, "after the refused commands")
	s.requireCleanHosts("")
	if ids := s.runIDs(); len(ids) != 0 {
		t.Errorf("runs were journaled: %v", ids)
	}
	if now, _ := os.ReadFile(s.c.KnownHosts); string(now) != string(known) {
		t.Errorf("known_hosts changed:\n%s\nwas\n%s", now, known)
	}
}

package inventory

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

func TestLoad(t *testing.T) {
	src := `
defaults {
  user = "wso2"
  port = 2222
  vars = { zone = "a", hz_port = 1 }
}
host "an2" {
  address = "10.0.0.12"
  groups  = ["analytics"]
}
host "an1" {
  address = "10.0.0.11"
  user    = "root"
  groups  = ["analytics"]
  vars    = { ip = "192.168.0.11", hz_port = 5000 }
}
host "ctl" {
  connection = "local"
}
group "analytics" {
  vars = { hz_port = 4000 }
}
group "db" {
  hosts = ["ctl"]
}
`
	inv, diags := LoadBytes(hclparse.NewParser(), []byte(src), "hosts.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	names := func(g string) string {
		var out []string
		for _, h := range inv.Groups[g] {
			out = append(out, h.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ got, want string }{
		{names("analytics"), "an2,an1"}, // file order
		{names("all"), "an2,an1,ctl"},
		{names("db"), "ctl"},
	} {
		if tc.got != tc.want {
			t.Errorf("group: %q, want %q", tc.got, tc.want)
		}
	}
	an1, _ := inv.Lookup("an1")
	an2, _ := inv.Lookup("an2")
	ctl, _ := inv.Lookup("ctl")
	if an1.User != "root" || an2.User != "wso2" || an1.Port != 2222 || ctl.Address != "127.0.0.1" || ctl.Connection != "local" {
		t.Errorf("settings: %+v %+v %+v", an1, an2, ctl)
	}
	// Host vars override group vars, which override defaults.
	if v := an1.Vars.GetAttr("hz_port").AsBigFloat().String(); v != "5000" {
		t.Errorf("an1 hz_port = %s", v)
	}
	if v := an2.Vars.GetAttr("hz_port").AsBigFloat().String(); v != "4000" {
		t.Errorf("an2 hz_port = %s", v)
	}
	if v := an2.Vars.GetAttr("zone").AsString(); v != "a" {
		t.Errorf("an2 zone = %s", v)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`host "a" {}`, `Host "a" needs an address`},
		{"host \"a\" {\n  address = \"x\"\n}\nhost \"a\" {\n  address = \"y\"\n}", `Host "a" is declared twice`},
		{`host "a" { 
  address = "x"
  connection = "telnet"
}`, `connection must be "ssh" or "local"`},
		{`host "a" {
  address = "x"
  adress = "y"
}`, `An argument named "adress" is not expected here`},
		{`group "g" {
  hosts = ["nope"]
}`, `lists host "nope", which is not declared`},
		{`group "all" {}`, `"all" is every host`},
	} {
		_, diags := LoadBytes(hclparse.NewParser(), []byte(tc.src), "hosts.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%q: diags %v, want %q", tc.src, diags, tc.want)
		}
		for _, d := range diags {
			if d.Subject == nil || d.Subject.Filename != "hosts.hcl" {
				t.Errorf("%q: diagnostic %q is not located", tc.src, d.Summary)
			}
		}
	}
}

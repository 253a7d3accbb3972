// Package pattern2test proves playbooks/pattern2.hcl end to end: the real isaplay binary
// applies it to real sshd test nodes whose product trees are the real WSO2 reference files, with
// a real MariaDB and a real svnserve. Its non-test code builds the product packs the test and
// `make demo` install (cmd/isaplay/pattern2test/mkpacks).
package pattern2test

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pack folder names: the zips unpack to these, as WSO2's packs do.
const (
	AnalyticsDir = "wso2is-analytics-5.6.0"
	IdentityDir  = "wso2is-5.6.0"
)

// Jars are the stand-in jar names the playbook copies (their bytes do not matter to the test).
var Jars = []string{"mysql-connector-java-5.1.47-bin.jar", "svnkit-all-1.8.7.wso2v1.jar", "trilead-ssh2-1.0.0-build215.jar"}

// PackFile is one file of a pack: its path in the pack, where its bytes come from and its mode.
type PackFile struct {
	Path string
	Src  string
	Mode os.FileMode
}

// AnalyticsFiles lists the IS Analytics pack: every real reference file under repository/ and
// dbscripts/, the real bin/load-spark-env-vars.sh, and the stand-in server as bin/wso2server.sh.
func AnalyticsFiles(ref, standin string) ([]PackFile, error) {
	files := []PackFile{
		{"bin/wso2server.sh", standin, 0o755},
		{"bin/load-spark-env-vars.sh", filepath.Join(ref, "bin/load-spark-env-vars.sh"), 0o755},
		{"dbscripts/mysql.sql", filepath.Join(ref, "dbscripts/mysql.sql"), 0o644},
		{"dbscripts/mysql5.7.sql", filepath.Join(ref, "dbscripts/mysql5.7.sql"), 0o644},
	}
	err := filepath.WalkDir(filepath.Join(ref, "repository"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(ref, p)
		files = append(files, PackFile{filepath.ToSlash(rel), p, 0o644})
		return nil
	})
	return files, err
}

// IdentityFiles lists the IS pack from the real IS 5.6.0 reference files. identity.xml is the
// configured k8s copy (the pristine one is not in the reference set), the identity, UMA and
// consent scripts are small stand-ins from testdata/pattern2/is-dbscripts, and isConf
// (testdata/pattern2/is-conf) holds the configuration files written here from their sources
// because the reference set lacks them (embedded-ldap.xml).
func IdentityFiles(ref, standin, isScripts, isConf string) []PackFile {
	is := filepath.Join(ref, "is-5.6.0")
	return []PackFile{
		{"bin/wso2server.sh", standin, 0o755},
		{"dbscripts/mysql.sql", filepath.Join(ref, "dbscripts/mysql.sql"), 0o644},
		{"dbscripts/mysql5.7.sql", filepath.Join(ref, "dbscripts/mysql5.7.sql"), 0o644},
		{"dbscripts/identity/mysql.sql", filepath.Join(isScripts, "identity/mysql.sql"), 0o644},
		{"dbscripts/identity/uma/mysql.sql", filepath.Join(isScripts, "identity/uma/mysql.sql"), 0o644},
		{"dbscripts/consent/mysql.sql", filepath.Join(isScripts, "consent/mysql.sql"), 0o644},
		{"repository/conf/carbon.xml", filepath.Join(is, "repository/conf/carbon.xml"), 0o644},
		{"repository/conf/axis2/axis2.xml", filepath.Join(is, "repository/conf/axis2/axis2.xml"), 0o644},
		{"repository/conf/registry.xml", filepath.Join(is, "repository/conf/registry.kernel-4.4.32.xml"), 0o644},
		{"repository/conf/tomcat/catalina-server.xml", filepath.Join(is, "repository/conf/tomcat/catalina-server.xml"), 0o644},
		{"repository/conf/user-mgt.xml", filepath.Join(is, "test-artifact-default-user-mgt.xml"), 0o644},
		{"repository/conf/datasources/master-datasources.xml", filepath.Join(ref, "repository/conf/datasources/master-datasources.xml"), 0o644},
		{"repository/conf/identity/identity.xml", filepath.Join(ref, "reference-configured-k8s-5.6.0.1/is/conf/identity/identity.xml"), 0o644},
		{"repository/conf/identity/embedded-ldap.xml", filepath.Join(isConf, "embedded-ldap.xml"), 0o644},
		{"repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-AuthenticationData.xml",
			filepath.Join(is, "repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-AuthenticationData.xml"), 0o644},
		{"repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-SessionData.xml",
			filepath.Join(is, "repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-SessionData.xml"), 0o644},
	}
}

// emptyDirs are folders every pack has, empty.
var emptyDirs = []string{"repository/components/lib/", "repository/components/dropins/", "repository/deployment/server/carbonapps/",
	"repository/data/", "repository/logs/"}

// WriteZip writes a pack: every file under top/ with its mode, plus the empty folders.
func WriteZip(out, top string, files []PackFile) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	seen := map[string]bool{}
	dir := func(d string) error {
		if seen[d] {
			return nil
		}
		seen[d] = true
		h := &zip.FileHeader{Name: top + "/" + d, Method: zip.Store}
		h.SetMode(os.ModeDir | 0o755)
		_, err := zw.CreateHeader(h)
		return err
	}
	for _, pf := range files {
		parts := strings.Split(pf.Path, "/")
		for i := 1; i < len(parts); i++ {
			if err := dir(strings.Join(parts[:i], "/") + "/"); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(pf.Src)
		if err != nil {
			return fmt.Errorf("pack %s: %w", top, err)
		}
		h := &zip.FileHeader{Name: top + "/" + pf.Path, Method: zip.Deflate}
		h.SetMode(pf.Mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	for _, d := range emptyDirs {
		parts := strings.Split(strings.TrimSuffix(d, "/"), "/")
		for i := 1; i <= len(parts); i++ {
			if err := dir(strings.Join(parts[:i], "/") + "/"); err != nil {
				return err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// BuildFiles writes both packs and the stand-in jars into out, the directory the playbook's
// mysql_jar lives in. repo is the isaplay checkout (for the stand-in server and scripts).
func BuildFiles(ref, repo, out string) error {
	standin := filepath.Join(repo, "testdata/standin/wso2server.sh")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	an, err := AnalyticsFiles(ref, standin)
	if err != nil {
		return err
	}
	if err := WriteZip(filepath.Join(out, AnalyticsDir+".zip"), AnalyticsDir, an); err != nil {
		return err
	}
	is := IdentityFiles(ref, standin, filepath.Join(repo, "testdata/pattern2/is-dbscripts"), filepath.Join(repo, "testdata/pattern2/is-conf"))
	if err := WriteZip(filepath.Join(out, IdentityDir+".zip"), IdentityDir, is); err != nil {
		return err
	}
	for _, j := range Jars {
		if err := os.WriteFile(filepath.Join(out, j), []byte("stand-in for "+j+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

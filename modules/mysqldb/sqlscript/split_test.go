package sqlscript

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/modules/wso2ref"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Statement
	}{
		{"empty", "", nil},
		{"only comments", "-- a\n# b\n/* c */\n", nil},
		{"two", "SELECT 1;\nSELECT 2;\n", []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}}},
		{"no final delimiter", "SELECT 1;\n\nSELECT 2\n", []Statement{{"SELECT 1", 1}, {"SELECT 2", 3}}},
		{"empty statements", ";;\nSELECT 1;;", []Statement{{"SELECT 1", 2}}},
		{"leading comment dropped", "-- header\n\n  /* block\n comment */ SELECT 1;", []Statement{{"SELECT 1", 4}}},
		{"semicolon in strings", "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);", []Statement{{"INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)", 1}}},
		{"doubled quotes", "SELECT 'it''s;', \"say \"\"x;\"\"\";", []Statement{{"SELECT 'it''s;', \"say \"\"x;\"\"\"", 1}}},
		{"backslash escapes", `SELECT 'a\';b', "c\";d";SELECT 2;`, []Statement{{`SELECT 'a\';b', "c\";d"`, 1}, {"SELECT 2", 1}}},
		{"backslash in backticks is literal", "SELECT `a\\`;SELECT 2;", []Statement{{"SELECT `a\\`", 1}, {"SELECT 2", 1}}},
		{"comment markers in strings", "SELECT '-- no', '# no', '/* no */';", []Statement{{"SELECT '-- no', '# no', '/* no */'", 1}}},
		{"semicolon in comments", "SELECT 1 -- a;b\n, 2 # c;d\n /* e;f */;", []Statement{{"SELECT 1 -- a;b\n, 2 # c;d\n /* e;f */", 1}}},
		{"double dash without space is minus", "SELECT 5--1;", []Statement{{"SELECT 5--1", 1}}},
		{"executable comment is a statement", "/*!40101 SET NAMES utf8 */;\nSELECT 1;", []Statement{{"/*!40101 SET NAMES utf8 */", 1}, {"SELECT 1", 2}}},
		{"multi-line string counts lines", "SELECT 'a\nb\nc';\nSELECT 2;", []Statement{{"SELECT 'a\nb\nc'", 1}, {"SELECT 2", 4}}},
		{"multi-line statement", "CREATE TABLE t (\n  a INT\n)ENGINE INNODB;\n\nCREATE INDEX i ON t(a);", []Statement{{"CREATE TABLE t (\n  a INT\n)ENGINE INNODB", 1}, {"CREATE INDEX i ON t(a)", 5}}},
		{"crlf", "SELECT 1;\r\nSELECT 2;\r\n", []Statement{{"SELECT 1", 1}, {"SELECT 2", 2}}},
		{
			"delimiter block",
			"DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 'x//y';\nEND//\nDELIMITER ;\nCALL p();\n",
			[]Statement{{"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 'x//y';\nEND", 2}, {"CALL p()", 8}},
		},
		{"lowercase delimiter with dollar", "delimiter $$\nSELECT 1$$\ndelimiter ;\nSELECT 2;", []Statement{{"SELECT 1", 2}, {"SELECT 2", 4}}},
		{"delimiter word inside statement is text", "SELECT 1 AS\ndelimiter;", []Statement{{"SELECT 1 AS\ndelimiter", 1}}},
		{"column named delimiter_x", "delimiter_x;", []Statement{{"delimiter_x", 1}}},
		{"dash comment at end of file", "SELECT 1;\n--", []Statement{{"SELECT 1", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q)\n got %#v\nwant %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		src      string
		line     int
		contains string
	}{
		{"SELECT 1;\nSELECT 'abc;\n", 2, "unterminated string"},
		{"SELECT \"abc", 1, "unterminated string"},
		{"\n\nSELECT `abc", 3, "unterminated identifier"},
		{"SELECT 1; /* open\n", 1, "unterminated /* comment"},
		{"SELECT 'a\\'", 1, "unterminated string"},
		{"SELECT 1;\nDELIMITER\n", 2, "DELIMITER without"},
	}
	for _, tt := range tests {
		_, err := Split(tt.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Split(%q): error %v, want a SyntaxError", tt.src, err)
			continue
		}
		if se.Line != tt.line || !strings.Contains(se.Msg, tt.contains) {
			t.Errorf("Split(%q): %v, want line %d containing %q", tt.src, err, tt.line, tt.contains)
		}
	}
}

func TestCreatedTables(t *testing.T) {
	src := "CREATE TABLE a (x INT);\n" +
		"create table if not exists `b``q` (x INT);\n" +
		"CREATE /* c */ TABLE db.c (x INT);\n" +
		"CREATE TEMPORARY TABLE tmp (x INT);\n" +
		"CREATE OR REPLACE TABLE d (x INT);\n" +
		"CREATE INDEX i ON a(x);\n" +
		"-- CREATE TABLE commented (x INT);\n" +
		"CREATE TABLE A (x INT);\n"
	stmts, err := Split(src)
	if err != nil {
		t.Fatal(err)
	}
	got := CreatedTables(stmts)
	want := []string{"a", "b`q", "c", "d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CreatedTables = %q, want %q", got, want)
	}
}

func TestRealWSO2Scripts(t *testing.T) {
	for _, name := range []string{"mysql.sql", "mysql5.7.sql"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(wso2ref.Dir(t), "dbscripts", name))
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := Split(string(b))
			if err != nil {
				t.Fatal(err)
			}
			tables := CreatedTables(stmts)
			reg, um := 0, 0
			for _, tb := range tables {
				switch {
				case strings.HasPrefix(tb, "REG_"):
					reg++
				case strings.HasPrefix(tb, "UM_"):
					um++
				}
			}
			if len(tables) != 40 || reg != 17 || um != 23 {
				t.Errorf("tables: %d (REG_ %d, UM_ %d), want 40 (17, 23): %v", len(tables), reg, um, tables)
			}
			var indexes int
			for _, s := range stmts {
				if strings.Contains(s.Text, "REG_ASSOCIATIONS") {
					t.Errorf("commented-out statement split as live, line %d", s.Line)
				}
				if w := tokens(s.Text, 3); len(w) >= 2 && w[0] == "CREATE" && (w[1] == "INDEX" || w[1] == "UNIQUE") {
					indexes++
				}
				// Each statement's line must hold its first token.
				lines := strings.Split(string(b), "\n")
				if first := strings.Fields(s.Text)[0]; !strings.Contains(lines[s.Line-1], first) {
					t.Errorf("statement %q: line %d is %q", first, s.Line, lines[s.Line-1])
				}
			}
			if indexes != 23 {
				t.Errorf("CREATE [UNIQUE] INDEX statements: %d, want 23", indexes)
			}
			if stmts[0].Line != 1 || !strings.HasPrefix(stmts[0].Text, "CREATE TABLE IF NOT EXISTS REG_CLUSTER_LOCK") {
				t.Errorf("first statement: %+v", stmts[0])
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SELECT 1;", "DELIMITER //\nBEGIN; END//\nDELIMITER ;\n", "SELECT 'a\\'b';", "/*! x */;-- c\n#d\n",
		"SELECT `a``b`, \"c\"\"d\";", "CREATE TABLE IF NOT EXISTS `x`.`y` (a INT);", "delimiter\n", "/*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Split(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a SyntaxError with a line", err)
			}
			return
		}
		lines := strings.Count(src, "\n") + 1
		for _, s := range stmts {
			if s.Text == "" || s.Line < 1 || s.Line > lines {
				t.Fatalf("bad statement %+v in %d lines", s, lines)
			}
			if !strings.Contains(src, s.Text) {
				t.Fatalf("statement %q is not a slice of the script", s.Text)
			}
		}
		CreatedTables(stmts)
	})
}

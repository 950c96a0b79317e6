package guard

import "testing"

// TestSQLClasses covers the classes issue 17 lists as missed or falsely
// flagged, in examples written for this test.
func TestSQLClasses(t *testing.T) {
	bad := map[string]string{
		"UPDATE accounts SET flag = 0 WHERE 1":     RuleSQLUpdateNoWhere,
		"DELETE FROM carts WHERE (1=1)":            RuleSQLDeleteNoWhere,
		"DELETE FROM carts WHERE owner = owner":    RuleSQLDeleteNoWhere,
		"SELECT * FROM notes WHERE id = 4 OR 1":    RuleSQLTautology,
		"TRUNCATE carts, orders":                   RuleSQLTruncate,
		`TRUNCATE "Orders"`:                        RuleSQLTruncate,
		"TRUNCATE DATABASE shop":                   RuleSQLTruncate,
		"EXECUTE IMMEDIATE 'DROP TABLE ' || tname": RuleSQLDynamic,
		"EXEC(@cmd)":                          RuleSQLDynamic,
		"DO $$ BEGIN PERFORM purge(); END $$": RuleSQLDynamic,
		"PREPARE s FROM @q":                   RuleSQLDynamic,
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE":                RuleSQLMergeDelete,
		"x'; DECLARE @s varchar(99); SET @s = 0x64726f70207461626c652074; EXEC(@s)--": RuleSQLEncoded,
		"1 AND EXTRACTVALUE(1, CONCAT(0x5c, version()))":                              RuleSQLErrorProbe,
		"2 and 2 = 2":                          RuleSQLInjection,
		"' || '":                               RuleSQLInjection,
		"(SELECT password FROM staff LIMIT 1)": RuleSQLIncomplete,
		"SELECT name FROM staff WHERE":         RuleSQLIncomplete,
		"SELECT name FROM staff --":            RuleSQLComment,
	}
	for in, rule := range bad {
		if !hasRule(CheckSQL(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckSQL(in), rule)
		}
	}
	good := []string{
		"Blue mug #2 (large)",
		"Widget #2",
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.n = s.n",
		"TRUNCATE(price, 2)",
		"SELECT TRUNCATE(price, 2) FROM items WHERE id = 3",
		`the "IS" STAMP collection`,
		"x/*",
		"it's 5 o'clock -- time to go",
		"SELECT * FROM t WHERE a = a.b",
		"SELECT a FROM t WHERE x IS NULL OR y = 2",
		"SELECT * FROM t LIMIT 1",
	}
	for _, in := range good {
		if f := CheckSQL(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

func hasRule(fs []SQLFinding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

package tomldepth

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"a = [[1], [2]]", true},
		{"a = [[[1]]]", false},
		{`a = "[[[[["`, true},
		{`a = '[[[[['`, true},
		{"a = \"\"\"\n[[[[\n\"\"\"", true},
		{"a = '''[[[['''", true},
		{`a = "\"[[[["`, true},
		{"# [[[[\na = 1", true},
		{"a = \"\"\"x\"\"\"\"\nb = [[[1]]]", false}, // a multi-line string may end with extra quotes
		{"[[x]]\n[[x]]", true},
		{"a = { b = { c = [1] } }", false},
		{strings.Repeat("[", 1<<20), false},
	} {
		err := Check([]byte(c.text), 2)
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok %v", c.text, err, c.ok)
		}
	}
	if err := Check([]byte("a = 1\nb = [\n[[1]]]"), 2); err == nil || !strings.HasPrefix(err.Error(), "line 3: ") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}

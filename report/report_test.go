package report

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"rout/runlog"
	"slices"
	"strings"
	"testing"
)

// The fixture sweep in testdata/sweep: 3 arms x 4 seeds, 3 epochs of 40 steps.
//
//	baseline  1 ok 0.6012 | 2 failed 0.1 | 3 ok 0.6240 | 4 failed 0.1
//	randomout 1 ok 0.7011 | 2 ok 0.6905  | 3 diverged (step 70) | 4 ok 0.7102
//	ro-bias   1 ok 0.7050 | 2 diverged (step 25) | 3 ok 0.6980 | 4 unfinished (claimed,
//	          metrics end in a half-written line)
//
// Diverged runs have no final accuracy, as the trainer writes them, and count at chance (0.1).
//
// Re-inits per layer grow as floor(rate_l * step * (1 + seed/10)) with rates 0, .5, .1, .02, 1.5
// (randomout) and 0, .8, .2, .05, 2 (ro-bias); layers are listed in network order, which is not
// alphabetical.
const fixture = "testdata/sweep"

func loadFixture(t *testing.T) *Report {
	t.Helper()
	sw, err := Load(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return Compute(sw, 2000)
}

func TestLoadFixture(t *testing.T) {
	sw, err := Load(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Runs) != 12 {
		t.Fatalf("%d runs, want 12", len(sw.Runs))
	}
	last := sw.Runs[11]
	if last.Arm != "ro-bias" || last.Seed != 4 || last.Done() || !last.Claimed {
		t.Errorf("last run: %s/%d done %v claimed %v; want ro-bias/4 unfinished and claimed", last.Arm, last.Seed, last.Done(), last.Claimed)
	}
	// 5 log lines (steps 10-50) and the epoch-1 line; the half-written 7th line is dropped.
	if len(last.Metrics) != 6 || last.Metrics[5].Step != 50 {
		t.Errorf("unfinished run: %d metric lines, want 6 ending at step 50", len(last.Metrics))
	}
	if s := sw.Runs[9].Summary; s == nil || s.Status != runlog.StatusDiverged || s.FinalTestAcc != nil {
		t.Errorf("ro-bias/2: summary %+v, want diverged without accuracy", s)
	}
	r := Compute(sw, 100)
	want := []string{"conv1", "s1.1x1", "s1.3x3", "d1.3x3", "s2.1x1"}
	if strings.Join(r.Layers, " ") != strings.Join(want, " ") {
		t.Errorf("layers %v, want the file's order %v", r.Layers, want)
	}
}

func TestComputeFixture(t *testing.T) {
	r := loadFixture(t)
	if r.Done != 11 || r.Total != 12 || len(r.Unfinished) != 1 || r.Unfinished[0] != "ro-bias/4 (claimed)" {
		t.Errorf("progress: %d of %d, unfinished %v", r.Done, r.Total, r.Unfinished)
	}
	if got := r.Progress(); !strings.HasPrefix(got, "11 of 12 runs done") {
		t.Errorf("progress line %q", got)
	}
	base, ro, bias := r.Arms[0], r.Arms[1], r.Arms[2]

	// Failures and their Wilson intervals.
	for _, c := range []struct {
		a                      ArmStats
		done, failed, diverged int
	}{{base, 4, 2, 0}, {ro, 4, 0, 1}, {bias, 3, 0, 1}} {
		if c.a.Done != c.done || c.a.Failed != c.failed || c.a.Diverged != c.diverged {
			t.Errorf("%s: done %d failed %d diverged %d; want %d %d %d", c.a.Arm.Name, c.a.Done, c.a.Failed, c.a.Diverged, c.done, c.failed, c.diverged)
		}
	}
	near(t, "baseline failure rate", base.FailRate, 0.5, 0)
	// Wilson 2/4: centre (0.5 + z^2/8)/(1 + z^2/4) = 0.5, half-width z/(1+z^2/4) sqrt(1/16 + z^2/64).
	z := z975
	half := z / (1 + z*z/4) * math.Sqrt(1.0/16+z*z/64)
	near(t, "baseline Wilson lo", base.FailCI.Lo, 0.5-half, 1e-12)
	near(t, "baseline Wilson hi", base.FailCI.Hi, 0.5+half, 1e-12)

	// Accuracy: baseline all = 0.1 0.1 0.6012 0.6240 -> median 0.3506, mean 0.3563,
	// Q1 (h = 0.75) 0.1, Q3 (h = 2.25) 0.6012 + 0.25*0.0228 = 0.6069.
	near(t, "baseline median", base.All.Median, 0.3506, 1e-12)
	near(t, "baseline mean", base.All.Mean, 0.3563, 1e-12)
	near(t, "baseline IQR", base.All.IQR, 0.6069-0.1, 1e-12)
	near(t, "baseline trained median", base.Trained.Median, 0.6126, 1e-12)
	near(t, "baseline trained sd", base.Trained.SD, 0.0228/math.Sqrt2, 1e-12)
	if ro.All.N != 4 || ro.Trained.N != 3 || bias.All.N != 3 || bias.NoAccuracy != 0 {
		t.Errorf("sample sizes: randomout %d/%d, ro-bias %d (no accuracy %d); want 4/3, 3 (0)", ro.All.N, ro.Trained.N, bias.All.N, bias.NoAccuracy)
	}
	// The diverged runs count at chance: ro-bias all = 0.1 0.6980 0.7050.
	near(t, "ro-bias median", bias.All.Median, 0.6980, 1e-12)
	near(t, "ro-bias Q1", bias.All.Q1, 0.399, 1e-12)
	near(t, "randomout trained median", ro.Trained.Median, 0.7011, 1e-12)

	// Paired against baseline.
	c := r.Comparisons[0]
	if c.Arm != "randomout" || c.Pairs != 4 {
		t.Fatalf("comparison %s with %d pairs, want randomout with 4", c.Arm, c.Pairs)
	}
	// median(0.7011 0.6905 0.1 0.7102) - median(baseline) = 0.6958 - 0.3506.
	near(t, "randomout median diff", c.MedianDiff, 0.3452, 1e-12)
	if !(c.CI.Lo <= c.MedianDiff && c.MedianDiff <= c.CI.Hi) {
		t.Errorf("bootstrap interval %+v misses the estimate %g", c.CI, c.MedianDiff)
	}
	// Differences 0.0999 0.5905 -0.524 0.6102: V = 1+3+4 = 8, exact p = 2 * 3/16.
	if !c.Wilcoxon.Exact || c.Wilcoxon.Statistic != 8 {
		t.Errorf("Wilcoxon %+v, want exact V = 8", c.Wilcoxon)
	}
	near(t, "randomout Wilcoxon p", c.Wilcoxon.P, 0.375, 1e-12)
	// W = 4 + 4 + 1 (0.1 ties two baseline 0.1s) + 4 = 13 of 16; exact with the ties: 7 of the
	// C(8, 4) = 70 splits of the mid-ranks give W >= 13, p = 2 * 7/70 (enumerated in Python; R's
	// normal approximation gives 0.183).
	if !c.MannWhitney.Exact || c.MannWhitney.Statistic != 13 {
		t.Errorf("Mann-Whitney %+v, want exact, W = 13", c.MannWhitney)
	}
	near(t, "randomout Mann-Whitney p", c.MannWhitney.P, 0.2, 1e-12)
	near(t, "randomout Fisher p", c.FisherP, 1, 1e-12) // [[2 2] [1 3]]

	c = r.Comparisons[1]
	// Seeds 1-3 (seed 4 is unfinished; seed 2 diverged and counts at chance, as baseline's failed
	// seed 2): median(0.7050 0.1 0.6980) - median(0.6012 0.1 0.6240) = 0.6980 - 0.6012.
	if c.Arm != "ro-bias" || c.Pairs != 3 {
		t.Fatalf("comparison %s with %d pairs, want ro-bias with 3", c.Arm, c.Pairs)
	}
	near(t, "ro-bias median diff", c.MedianDiff, 0.0968, 1e-12)
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "only 3 paired seeds") {
		t.Errorf("ro-bias notes %q, want a warning about 3 pairs", c.Notes)
	}
	near(t, "ro-bias Wilcoxon p", c.Wilcoxon.P, 0.5, 1e-12) // the zero dropped; V = 3 of 3, exact 2 * 1/4
	// 0.7050 0.1 0.6980 against 0.6012 0.1 0.6240 0.1: W = 9 of 12, 7 of C(7, 3) = 35 splits as
	// extreme, p = 2 * 7/35 (enumerated in Python).
	near(t, "ro-bias Mann-Whitney p", c.MannWhitney.P, 0.4, 1e-12)
	// Fisher on [[2 2] [1 2]]: tables with a = 1, 2, 3 have probabilities 3/7... p = 1.
	near(t, "ro-bias Fisher p", c.FisherP, 1, 1e-12)

	// Re-inits per layer, mean per finished run (the diverged run counts with what it reached).
	// randomout s1.1x1: floor(.5*120*1.1) + floor(.5*120*1.2) + floor(.5*70*1.3) + floor(.5*120*1.4)
	// = 66 + 72 + 45 + 84 = 267 over 4 runs.
	near(t, "randomout s1.1x1 re-inits", ro.Reinits[1], 267.0/4, 1e-12)
	near(t, "randomout total re-inits", ro.ReinitsTotal, 282, 1e-12)
	// ro-bias s1.1x1: floor(.8*120*1.1) + floor(.8*25*1.2) + floor(.8*120*1.3) = 105 + 24 + 124.
	near(t, "ro-bias s1.1x1 re-inits", bias.Reinits[1], 253.0/3, 1e-12)
	for _, v := range base.Reinits {
		near(t, "baseline re-inits", v, 0, 0)
	}
}

func TestReportIsReproducible(t *testing.T) {
	a, b := loadFixture(t), loadFixture(t)
	var ta, tb bytes.Buffer
	if err := a.WriteText(&ta); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteText(&tb); err != nil {
		t.Fatal(err)
	}
	if ta.String() != tb.String() {
		t.Error("two reports of the same sweep differ")
	}
	pa, err := a.Pictures()
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b.Pictures()
	for i := range pa {
		if !bytes.Equal(pa[i].SVG, pb[i].SVG) {
			t.Errorf("picture %s differs between two reports", pa[i].Name)
		}
	}
}

func TestTextTable(t *testing.T) {
	r := loadFixture(t)
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"11 of 12 runs done (3 arms x 4 seeds); unfinished: ro-bias/4 (claimed)",
		`preset "quick"`,
		"ro-bias:randomout=true,randomout-scope=weights+bias,tau=1e-06",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printed report lacks %q:\n%s", want, out)
		}
	}
	// Whole rows, whitespace-insensitive.
	rows := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		rows[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{
		"arm done failed diverged failure rate Wilson 95% mean wall (s)",
		"baseline 4/4 2 0 50.0% [15.0%, 85.0%] 70.2",
		"randomout 4/4 0 1 25.0% [4.6%, 69.9%] 62.3", // (3 * 70.2 + 38.7)/4 = 62.325
		"baseline all 4 35.06 35.63 29.61 50.69 10.00 60.69",
		"randomout trained 3 70.11 70.06 0.99 0.99 69.58 70.56",
		"ro-bias all 3 69.80 50.10 34.73 30.25 39.90 70.15",
		"randomout 4 +34.52 " + interval(r.Comparisons[0].CI, 2, "signed") + " 0.375 0.2 1",
		"ro-bias 3 +9.68 " + interval(r.Comparisons[1].CI, 2, "signed") + " 0.5 0.4 1",
		"s1.1x1 0.0 66.8 84.3",
		"total 0.0 282.0 322.0",
	} {
		if !rows[want] {
			t.Errorf("printed report lacks the row %q:\n%s", want, out)
		}
	}
}

func TestWriteFixture(t *testing.T) {
	r := loadFixture(t)
	out := filepath.Join(t.TempDir(), "nested", "report")
	files, err := r.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 11 {
		t.Errorf("wrote %d files, want 11: %v", len(files), files)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"accuracy", "loss", "dead", "curves"} {
		img, err := png.Decode(bytes.NewReader(read(name + ".png")))
		if err != nil {
			t.Errorf("%s.png: %v", name, err)
		} else if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 500 {
			t.Errorf("%s.png is %dx%d, want at least 800x500", name, b.Dx(), b.Dy())
		}
		checkSVG(t, name+".svg", read(name+".svg"))
	}

	rows, err := csv.NewReader(bytes.NewReader(read("runs.csv"))).ReadAll()
	if err != nil {
		t.Fatalf("runs.csv: %v", err)
	}
	if len(rows) != 13 || len(rows[0]) != 13 || rows[0][0] != "arm" || rows[0][11] != "escape_step" {
		t.Fatalf("runs.csv: %d rows of %d fields, want a header and 12 runs of 13", len(rows), len(rows[0]))
	}
	// Escape steps: the first log line below 0.9 ln(10) = 2.0723 (baseline/1: 2.18, 2.08, 1.98);
	// never for a failed run; an unfinished run's so far.
	var escapes []string
	for _, row := range rows[1:] {
		escapes = append(escapes, row[11])
	}
	if got := strings.Join(escapes, ","); got != "30,,20,,30,20,20,20,30,20,20,20" {
		t.Errorf("runs.csv escape_step column %s", got)
	}
	if got := strings.Join(rows[7][:5], ","); got != "randomout,3,diverged,,0.3012" {
		t.Errorf("runs.csv row 7 = %q", got)
	}
	if rows[12][2] != "claimed" || rows[10][3] != "" {
		t.Errorf("runs.csv: unfinished row %v, no-accuracy row %v", rows[12], rows[10])
	}

	page := string(read("report.html"))
	imgs := regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(page, -1)
	if len(imgs) != 4 {
		t.Fatalf("report.html embeds %d PNG pictures, want 4", len(imgs))
	}
	// The answer first, the pictures right after it, then the per-seed table and the rest.
	answer := strings.Index(page, "baseline failed 2 of 4 (seeds 2, 4)")
	picture := strings.Index(page, "<img")
	seeds := strings.Index(page, "Every run: final test accuracy")
	failures := strings.Index(page, "Runs and failures")
	if !(answer >= 0 && answer < picture && picture < seeds && seeds < failures) {
		t.Errorf("report.html order: answer at %d, first picture at %d, per-seed table at %d, failures at %d", answer, picture, seeds, failures)
	}
	for _, m := range imgs {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("embedded picture: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("embedded picture does not decode: %v", err)
		}
	}
	if strings.Contains(page, `src="http`) || strings.Contains(page, `href="http`) {
		t.Error("report.html refers to an outside resource")
	}
	for _, want := range []string{"11 of 12 runs done", "<td>ro-bias</td>", "Wilson 95%"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	md := string(read("report.md"))
	if !strings.HasPrefix(md, "# Sweep report: "+fixture+"\n\n**baseline failed 2 of 4 (seeds 2, 4);") {
		t.Errorf("report.md does not open with the answer:\n%.300s", md)
	}
	for _, want := range []string{"11 of 12 runs done", "| 2 | 10.00 | failed | 0 | 69.05 | ok | 304 | - | diverged | 91 |", "| baseline | 4/4 | 2 | 0 | 50.0% | [15.0%, 85.0%] | 70.2 |", "![Final test accuracy per arm](accuracy.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// checkSVG parses b as XML and wants an <svg> root element.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("%s is not well-formed XML: %v", name, err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", name, root)
	}
}

func TestReportOfSweepNotStarted(t *testing.T) {
	dir := t.TempDir()
	plan := `{"preset": "quick", "arms": [{"name": "baseline"}, {"name": "randomout"}], "seeds": [5, 6, 7], "created": "2025-06-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	sw, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := Compute(sw, 100)
	if got := r.Progress(); !strings.HasPrefix(got, "0 of 6 runs done") {
		t.Errorf("progress %q", got)
	}
	if _, err := r.Write(filepath.Join(dir, "report")); err != nil {
		t.Fatalf("report of an empty sweep: %v", err)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(b.String()), " "), "baseline 0/3 0 0 - - -") {
		t.Errorf("printed report of an empty sweep:\n%s", b.String())
	}
}

// copyFixture copies the fixture sweep into a temporary folder to be damaged.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(fixture, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixture, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoadRejectsBadFiles(t *testing.T) {
	for _, c := range []struct {
		name, file, content, want string
	}{
		{"bad plan", "sweep.json", `{"arms": [`, "sweep.json"},
		{"no arms", "sweep.json", `{"arms": [], "seeds": [1]}`, "at least one arm"},
		{"arm path", "sweep.json", `{"arms": [{"name": "../x"}], "seeds": [1]}`, "not a folder name"},
		{"bad status", "runs/baseline/1/summary.json", `{"arm": "baseline", "seed": 1, "status": "great", "final_test_acc": 0.5}`, `status "great"`},
		{"wrong folder", "runs/baseline/1/summary.json", `{"arm": "randomout", "seed": 1, "status": "ok", "final_test_acc": 0.5}`, "its folder is arm"},
		{"percent not fraction", "runs/baseline/1/summary.json", `{"arm": "baseline", "seed": 1, "status": "ok", "final_test_acc": 60.12}`, "fraction"},
		{"ok without accuracy", "runs/baseline/1/summary.json", `{"arm": "baseline", "seed": 1, "status": "ok"}`, "no final_test_acc"},
		{"bad counts", "runs/baseline/1/summary.json", `{"arm": "baseline", "seed": 1, "status": "ok", "final_test_acc": 0.5, "reinits_per_layer": [1]}`, "per-layer counts"},
		{"bad run config", "runs/baseline/1/config.json", `{"provenance": {"model": {"conv_filters": [8]}}}`, "config.json"},
		{"zero filters", "runs/baseline/1/config.json", `{"provenance": {"model": {"conv_filters": {"conv1": 0}}}}`, `layer "conv1" has 0 filters`},
		{"metrics out of order", "runs/baseline/1/metrics.jsonl", "{\"kind\": \"log\", \"step\": 20}\n{\"kind\": \"log\", \"step\": 10}\n", "line 2: step 10 after step 20 on line 1: the lines are out of order"},
		{"summary a directory", "runs/baseline/1/summary.json/x", "", "summary.json: not a regular file (a directory)"},
		{"finished run, bad metrics", "runs/baseline/1/metrics.jsonl", "{\"kind\": \"log\", \"step\": 10}\n{\"kind\": \"log\", \"st", "metrics.jsonl: line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyFixture(t)
			parent := filepath.Dir(filepath.Join(dir, c.file))
			if st, err := os.Stat(parent); err == nil && !st.IsDir() {
				os.Remove(parent) // a file of the fixture that this case makes a folder
			}
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			sw, err := Load(dir)
			if !strings.HasPrefix(c.file, "runs/") {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("Load: error %v, want one mentioning %q", err, c.want)
				}
				return
			}
			// A damaged run does not sink the sweep: it is left out and listed with its error.
			if err != nil {
				t.Fatalf("Load: %v, want the sweep with the run marked damaged", err)
			}
			rep := Compute(sw, 10)
			if len(rep.Damaged) != 1 || rep.Damaged[0].Arm != "baseline" || rep.Damaged[0].Seed != 1 ||
				!strings.Contains(rep.Damaged[0].Err.Error(), c.want) {
				t.Fatalf("damaged runs %+v, want baseline/1 with an error mentioning %q", rep.Damaged, c.want)
			}
			if rep.Done+len(rep.Unfinished)+len(rep.Damaged) != rep.Total || slices.Contains(rep.Unfinished, "baseline/1") {
				t.Errorf("done %d, unfinished %v, damaged 1 of %d runs", rep.Done, rep.Unfinished, rep.Total)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "sweep.json") {
		t.Errorf("missing folder: error %v, want one naming sweep.json", err)
	}
}

func TestWriteToUnwritableFolder(t *testing.T) {
	r := loadFixture(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write(filepath.Join(file, "report")); err == nil {
		t.Error("writing under a regular file: no error")
	}
}

func TestReinitColorsHaveNoHoles(t *testing.T) {
	_, pal := heatColors(2.5)
	cs := pal.Colors()
	for i, c := range cs {
		if c == nil {
			t.Fatalf("heat map colour %d of %d is nil (the cell would not be drawn)", i, len(cs))
		}
	}
	if r, g, b, _ := cs[0].RGBA(); r < 0xf000 || g < 0xf000 || b < 0xf000 {
		t.Errorf("zero re-inits is not white: %v", cs[0])
	}
}

// TestEpochAccuracyKeepsTheLastLine: a run stopped mid-epoch by --max-steps and resumed has two
// epoch lines for that epoch (the partial one, then the whole one); the curve takes the last.
func TestEpochAccuracyKeepsTheLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	lines := `{"kind": "log", "step": 5, "epoch": 1, "loss": 2.1}
{"kind": "epoch", "step": 7, "epoch": 1, "loss": 2.0, "test_acc": 0.2, "test_loss": 2.0}
{"kind": "log", "step": 10, "epoch": 1, "loss": 1.9}
{"kind": "epoch", "step": 20, "epoch": 1, "loss": 1.5, "test_acc": 0.4, "test_loss": 1.6}
{"kind": "epoch", "step": 40, "epoch": 2, "loss": 1.2, "test_acc": 0.5, "test_loss": 1.3}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := runlog.ReadMetrics(path, false)
	if err != nil {
		t.Fatal(err)
	}
	got := epochAccuracy(ms)
	if len(got) != 2 || got[0].X != 1 || got[0].Y != 40 || got[1].X != 2 || got[1].Y != 50 {
		t.Errorf("epoch accuracy %v, want [{1 40} {2 50}]", got)
	}
}

// TestComputeEdges: layers in network order with "-" for a layer an arm does not watch, Fisher
// only where both arms have finished runs, and no sign on a zero difference.
func TestComputeEdges(t *testing.T) {
	acc := func(v float64) *runlog.Number { n := runlog.Number(v); return &n }
	layers := func(names ...string) runlog.LayerCounts {
		return runlog.LayerCounts{Layers: names, Counts: make([]int64, len(names))}
	}
	sw := &Sweep{Plan: runlog.Plan{Arms: []runlog.Arm{{Name: "few"}, {Name: "all"}, {Name: "none"}}, Seeds: []uint64{1, 2}}}
	for _, seed := range []uint64{1, 2} {
		sw.Runs = append(sw.Runs,
			Run{Arm: "few", Seed: seed, Summary: &runlog.Summary{Status: runlog.StatusOK, FinalTestAcc: acc([]float64{0.5007, 0.5007}[seed-1]), ReinitsPerLayer: layers("b")}},
			Run{Arm: "all", Seed: seed, Summary: &runlog.Summary{Status: runlog.StatusOK, FinalTestAcc: acc([]float64{0.5, 0.5014}[seed-1]), ReinitsPerLayer: layers("a", "b", "c")}},
			Run{Arm: "none", Seed: seed},
		)
	}
	r := Compute(sw, 200)
	if got := strings.Join(r.Layers, " "); got != "a b c" {
		t.Errorf("layers %q, want network order a b c", got)
	}
	if few := r.Arms[0]; !math.IsNaN(few.Reinits[0]) || few.Reinits[1] != 0 || !math.IsNaN(few.Reinits[2]) {
		t.Errorf("arm few watches only b: re-inits %v, want [NaN 0 NaN]", few.Reinits)
	}
	// Medians 0.5007 and 0.5007: the difference prints as 0.00, whatever its rounding.
	if got := signed(100*r.Comparisons[0].MedianDiff, 2); got != "0.00" {
		t.Errorf("difference of equal medians printed %q (%g), want 0.00", got, r.Comparisons[0].MedianDiff)
	}
	if p := r.Comparisons[1].FisherP; !math.IsNaN(p) {
		t.Errorf("Fisher p against an arm with no finished run = %g, want none", p)
	}
	// Arms watching disjoint layers: the order comes from a summary's list of every conv layer,
	// and a layer no arm watches is not listed.
	sw.Runs[0].Summary.ReinitsPerLayer = layers("a", "c")
	sw.Runs[1].Summary.ReinitsPerLayer = layers("b")
	sw.Runs[3].Summary.ReinitsPerLayer = layers("a", "c")
	sw.Runs[4].Summary.ReinitsPerLayer = layers("b")
	sw.Runs[1].Summary.ConvLayers = []string{"a", "b", "c", "d"}
	if got := strings.Join(Compute(sw, 200).Layers, " "); got != "a b c" {
		t.Errorf("disjoint watched layers: order %q, want a b c", got)
	}
	for v, want := range map[float64]string{-1e-17: "0.00", 0.004: "0.00", -0.005: "-0.01", 0.0051: "+0.01", 12.5: "+12.50", math.NaN(): "-"} {
		if got := signed(v, 2); got != want {
			t.Errorf("signed(%g) = %q, want %q", v, got, want)
		}
	}
}

package report

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"rout/internal/atomicfile"
	"rout/runlog"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report's tables as aligned plain text (what `rout report` prints).
// It opens with the answer, then the key to its statistics, then every run per seed, then the
// rest.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, line := range r.Answer() {
		fmt.Fprintf(&b, "%s\n", line)
	}
	b.WriteString("\nKey:\n")
	for _, k := range r.Key() {
		fmt.Fprintf(&b, "  %s\n", k)
	}
	fmt.Fprintf(&b, "\nsweep %s: %s\n", r.Sweep.Dir, r.planLine())
	fmt.Fprintf(&b, "%s\n", r.Progress())
	for _, t := range append([]Table{r.SeedTable()}, r.Tables()...) {
		fmt.Fprintf(&b, "\n%s\n", t.Title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, row := range append([][]string{t.Header}, t.Rows...) {
			// A trailing tab ends every cell, so the last column is right-aligned too.
			fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// planLine describes the plan: preset, arms with their overrides, seeds.
func (r *Report) planLine() string {
	p := r.Sweep.Plan
	var arms []string
	for _, a := range p.Arms {
		arms = append(arms, a.String())
	}
	s := fmt.Sprintf("preset %q, arms %s, seeds %s", p.Preset, strings.Join(arms, " "), runlog.FormatSeeds(p.Seeds))
	if p.Created != "" {
		s += ", created " + p.Created
	}
	return s
}

// Markdown returns report.md: the tables and the pictures (linked as the PNG files beside it).
// It opens with the answer and its key, then every run per seed, then the pictures, then the
// rest.
func (r *Report) Markdown(pics []Picture) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sweep report: %s\n\n", r.Sweep.Dir)
	for _, line := range r.Answer() {
		fmt.Fprintf(&b, "**%s**\n\n", mdEscape(line))
	}
	b.WriteString("Key:\n\n")
	for _, k := range r.Key() {
		fmt.Fprintf(&b, "- %s\n", mdEscape(k))
	}
	fmt.Fprintf(&b, "\n%s.\n\n%s.\n", mdEscape(r.planLine()), mdEscape(r.Progress()))
	writeMDTable(&b, r.SeedTable())
	b.WriteString("\n## Pictures\n")
	for _, p := range pics {
		fmt.Fprintf(&b, "\n### %s\n\n![%s](%s.png)\n\n%s ([SVG](%s.svg))\n", p.Title, p.Title, p.Name, mdEscape(p.Caption), p.Name)
	}
	for _, t := range r.Tables() {
		writeMDTable(&b, t)
	}
	return b.String()
}

// writeMDTable writes t as a titled Markdown table with its notes.
func writeMDTable(b *strings.Builder, t Table) {
	fmt.Fprintf(b, "\n## %s\n\n", t.Title)
	fmt.Fprintf(b, "| %s |\n|", strings.Join(mdCells(t.Header), " | "))
	for i := range t.Header {
		if i == 0 {
			b.WriteString(" :--- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, row := range t.Rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(mdCells(row), " | "))
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			fmt.Fprintf(b, "- %s\n", mdEscape(n))
		}
	}
}

func mdCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = mdEscape(c)
	}
	return out
}

// mdEscape keeps table pipes and emphasis markers literal.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sweep report: {{.Dir}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.notes { font-size: 0.85em; color: #555; }
.answer { font-size: 1.15em; font-weight: 600; margin: 0.4em 0; }
.key { font-size: 0.9em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
</style>
</head>
<body>
<h1>Sweep report: {{.Dir}}</h1>
<section id="answer">
{{range .Answer}}<p class="answer">{{.}}</p>
{{end}}<p class="notes">What each test says: the <a href="#key">key</a> below the pictures.</p>
</section>
{{range .Pictures}}
<figure id="{{.Name}}">
<img alt="{{.Title}}" {{.Src}}>
<figcaption><strong>{{.Title}}.</strong> {{.Caption}}</figcaption>
</figure>
{{end}}
<h2 id="key">Key</h2>
<ul class="key">{{range .Key}}<li>{{.}}</li>{{end}}</ul>
<p>{{.Plan}}</p>
<p><strong>{{.Progress}}</strong></p>
{{range .Tables}}
<h2>{{.Title}}</h2>
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Notes}}<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}
</body>
</html>
`))

// HTML returns report.html: self-contained, with the pictures embedded as base64 PNG. The
// answer comes first, the pictures right after it, then the key, every run per seed and the
// rest.
func (r *Report) HTML(pics []Picture) ([]byte, error) {
	type htmlPic struct {
		Name, Title, Caption string
		Src                  template.HTMLAttr
	}
	data := struct {
		Dir, Plan, Progress string
		Answer, Key         []string
		Tables              []Table
		Pictures            []htmlPic
	}{Dir: r.Sweep.Dir, Plan: r.planLine(), Progress: r.Progress(), Answer: r.Answer(), Key: r.Key(),
		Tables: append([]Table{r.SeedTable()}, r.Tables()...)}
	for _, p := range pics {
		data.Pictures = append(data.Pictures, htmlPic{
			Name: p.Name, Title: p.Title, Caption: p.Caption,
			// A data URL of our own PNG bytes. Base64 has no quotes or markup, so the attribute is
			// safe as written; marking it so keeps the template from escaping every '+'.
			Src: template.HTMLAttr(`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(p.PNG) + `"`),
		})
	}
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("report: html: %w", err)
	}
	return b.Bytes(), nil
}

// CSV returns runs.csv: one row per planned run, unfinished ones with status "unfinished" (or
// "claimed") and empty fields. Accuracies are fractions, as in summary.json; escape_step is the
// first logged step whose training loss is below 0.9 ln(classes), empty if none (yet).
func (r *Report) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	header := []string{"arm", "seed", "status", "final_test_acc", "best_test_acc", "final_test_loss", "final_train_loss",
		"epochs", "steps", "wall_seconds", "reinits_total", "escape_step", "message"}
	if err := w.Write(header); err != nil {
		return nil, err
	}
	opt := func(v *runlog.Number) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(float64(*v), 'g', -1, 64)
	}
	for _, run := range r.Sweep.Runs {
		row := []string{run.Arm, strconv.FormatUint(run.Seed, 10)}
		escape := ""
		if step, ok := run.EscapeStep(); ok {
			escape = strconv.Itoa(step)
		}
		s := run.Summary
		switch {
		case s != nil:
			row = append(row, s.Status, opt(s.FinalTestAcc), opt(s.BestTestAcc), opt(s.FinalTestLoss), opt(s.FinalTrainLoss),
				strconv.Itoa(s.Epochs), strconv.Itoa(s.Steps), strconv.FormatFloat(s.WallSeconds, 'g', -1, 64),
				strconv.FormatInt(s.ReinitsTotal, 10), escape, s.Message)
		case run.Claimed:
			row = append(row, "claimed", "", "", "", "", "", "", "", "", escape, "")
		default:
			row = append(row, "unfinished", "", "", "", "", "", "", "", "", escape, "")
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// Write renders the report into outDir (created if needed): report.md, report.html, runs.csv and
// every picture as NAME.png and NAME.svg. Each file is written atomically, so a reader (or a
// report interrupted half way) never sees a partial file. It returns the files written.
func (r *Report) Write(outDir string) ([]string, error) {
	pics, err := r.Pictures()
	if err != nil {
		return nil, err
	}
	page, err := r.HTML(pics)
	if err != nil {
		return nil, err
	}
	runs, err := r.CSV()
	if err != nil {
		return nil, fmt.Errorf("report: runs.csv: %w", err)
	}
	type file struct {
		name string
		data []byte
	}
	files := []file{{"report.md", []byte(r.Markdown(pics))}, {"report.html", page}, {"runs.csv", runs}}
	for _, p := range pics {
		files = append(files, file{p.Name + ".png", p.PNG}, file{p.Name + ".svg", p.SVG})
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: output folder: %w", err)
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(outDir, f.name)
		if err := atomicfile.Write(path, f.data); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

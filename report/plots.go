package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"rout/runlog"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"rout/rng"
)

// Picture is one figure of the report, rendered both as PNG (for the HTML page and quick looks)
// and SVG (for papers).
type Picture struct {
	Name    string // file stem: Name.png, Name.svg
	Title   string
	Caption string
	PNG     []byte
	SVG     []byte
}

// pngDPI is the resolution of the PNG pictures: an 8-inch-wide figure is 1200 pixels.
const pngDPI = 150

// jitterSeed keys the horizontal jitter of the per-seed points, so pictures are reproducible.
const jitterSeed = 0x4a4954544552 // "JITTER"

// armColors are the Okabe-Ito colours (distinguishable with the common colour-vision
// deficiencies), in arm order; more arms than colours reuse them.
var armColors = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0xF0, 0xE4, 0x42, 0xff}, // yellow
	{0x00, 0x00, 0x00, 0xff}, // black
}

func armColor(i int) color.RGBA { return armColors[i%len(armColors)] }

var failColor = color.RGBA{0xC0, 0x00, 0x00, 0xff}

// Pictures draws the report's figures: final accuracy per arm, the training loss of every run
// against the plateau, dead filters per layer of every run, and test accuracy per epoch.
func (r *Report) Pictures() ([]Picture, error) {
	var pics []Picture
	for _, f := range []func() (Picture, error){r.accuracyPicture, r.lossPicture, r.deadPicture, r.curvesPicture} {
		p, err := f()
		if err != nil {
			return nil, err
		}
		pics = append(pics, p)
	}
	return pics, nil
}

// render draws a figure of size w x h into PNG and SVG bytes.
func render(p *Picture, w, h vg.Length, drawFig func(draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
	drawFig(draw.New(img))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return fmt.Errorf("report: picture %s: png: %w", p.Name, err)
	}
	svg := vgsvg.New(w, h)
	dc := draw.New(svg)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	drawFig(dc)
	var sb bytes.Buffer
	if _, err := svg.WriteTo(&sb); err != nil {
		return fmt.Errorf("report: picture %s: svg: %w", p.Name, err)
	}
	p.PNG, p.SVG = pb.Bytes(), sb.Bytes()
	return nil
}

// percentTicks labels a 0-100 axis every 10% with minor ticks every 5%.
type percentTicks struct{}

func (percentTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Ceil(min/5) * 5; v <= max; v += 5 {
		t := plot.Tick{Value: v}
		if math.Mod(v, 10) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', 0, 64) + "%"
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func (r *Report) chanceLine(xmin, xmax float64) (*plotter.Line, bool) {
	var chance float64
	for _, a := range r.Arms {
		if a.ChanceAcc > 0 {
			chance = a.ChanceAcc
		}
	}
	if chance == 0 {
		return nil, false
	}
	l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: 100 * chance}, {X: xmax, Y: 100 * chance}})
	if err != nil {
		return nil, false
	}
	l.Color = color.Gray{0x80}
	l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	return l, true
}

// accuracyPicture: a box per arm (quartiles by definition 7, whiskers to the most extreme values
// within 1.5 IQR) with every finished run as a jittered point; failures in red, spread evenly
// across the arm's column and labelled with their seeds, so that runs at the same (chance)
// accuracy stay apart.
func (r *Report) accuracyPicture() (Picture, error) {
	pic := Picture{
		Name:  "accuracy",
		Title: "Final test accuracy per arm",
		Caption: "Box: quartiles and median of the final test accuracy of all finished runs of each arm " +
			"(whiskers to the furthest runs within 1.5 IQR). Points: every finished run, jittered sideways; " +
			"red crosses failed to train, red triangles diverged (drawn at chance accuracy, as they count), " +
			"each labelled with its seed. Dashed line: chance accuracy.",
	}
	p := plot.New()
	p.Title.Text = pic.Title
	p.Y.Label.Text = "final test accuracy"
	p.Y.Tick.Marker = percentTicks{}
	p.Y.Min, p.Y.Max = 0, 100
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	var names []string
	jitter := rng.NewStream(rng.KeyFromSeed(jitterSeed), 0, 0, 0)
	ok := plotter.XYs{}
	var okColors []color.Color
	var failed, diverged plotter.XYs
	var failLabels plotter.XYLabels
	var boxLegend *plotter.BoxPlot
	for i, a := range r.Arms {
		names = append(names, fmt.Sprintf("%s\nn=%d, %d failed", a.Arm.Name, a.Done, a.Failures))
		vals := plotter.Values{}
		for _, v := range a.finalAcc {
			vals = append(vals, 100*v)
		}
		if len(vals) > 0 { // an arm with no finished run gets its label and no box
			box, err := plotter.NewBoxPlot(vg.Points(40), float64(i), vals)
			if err != nil {
				return pic, fmt.Errorf("report: accuracy picture: %s: %w", a.Arm.Name, err)
			}
			setQuartiles(box, a.All)
			box.GlyphStyle.Radius = 0 // every run is drawn as a point below, outliers included
			box.FillColor = color.NRGBA{armColor(i).R, armColor(i).G, armColor(i).B, 0x40}
			p.Add(box)
			if boxLegend == nil {
				boxLegend = box
			}
		}
		var fails []Run
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name || run.Summary == nil {
				continue
			}
			acc, scored := Score(run.Summary)
			if !scored {
				continue
			}
			if run.Summary.Failed() {
				fails = append(fails, run)
				continue
			}
			ok = append(ok, plotter.XY{X: float64(i) + 0.3*(2*float64(jitter.Float32())-1), Y: 100 * acc})
			okColors = append(okColors, armColor(i))
		}
		for k, run := range fails {
			acc, _ := Score(run.Summary)
			pt := plotter.XY{X: float64(i) - 0.3 + 0.6*(float64(k)+0.5)/float64(len(fails)), Y: 100 * acc}
			if run.Summary.Status == runlog.StatusDiverged {
				diverged = append(diverged, pt)
			} else {
				failed = append(failed, pt)
			}
			failLabels.XYs = append(failLabels.XYs, pt)
			failLabels.Labels = append(failLabels.Labels, strconv.FormatUint(run.Seed, 10))
		}
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(r.Arms))-0.4
	if boxLegend != nil {
		leg.Add("quartiles, median", &plotter.BarChart{Color: color.NRGBA{0x80, 0x80, 0x80, 0x40}, LineStyle: boxLegend.BoxStyle})
	}
	if l, ok := r.chanceLine(p.X.Min, p.X.Max); ok {
		p.Add(l)
		leg.Add("chance", l)
	}
	if len(ok) > 0 {
		s, err := plotter.NewScatter(ok)
		if err != nil {
			return pic, fmt.Errorf("report: accuracy picture: %w", err)
		}
		s.GlyphStyleFunc = func(i int) draw.GlyphStyle {
			return draw.GlyphStyle{Color: okColors[i], Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		}
		s.GlyphStyle = draw.GlyphStyle{Color: color.Gray{0x40}, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(s)
		leg.Add("trained run", s)
	}
	for _, g := range []struct {
		pts   plotter.XYs
		name  string
		shape draw.GlyphDrawer
	}{{failed, "failed run (seed)", draw.CrossGlyph{}}, {diverged, "diverged run (seed)", draw.TriangleGlyph{}}} {
		if len(g.pts) == 0 {
			continue
		}
		s, err := plotter.NewScatter(g.pts)
		if err != nil {
			return pic, fmt.Errorf("report: accuracy picture: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: failColor, Radius: vg.Points(4), Shape: g.shape}
		p.Add(s)
		leg.Add(g.name, s)
	}
	if len(failLabels.XYs) > 0 {
		labels, err := plotter.NewLabels(failLabels)
		if err != nil {
			return pic, fmt.Errorf("report: accuracy picture: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Color = failColor
			labels.TextStyle[i].Font.Size = vg.Points(8)
			labels.TextStyle[i].XAlign = draw.XCenter
		}
		labels.Offset = vg.Point{Y: vg.Points(6)}
		p.Add(labels)
	}
	w := vg.Length(math.Max(7, 3.4+1.6*float64(len(r.Arms)))) * vg.Inch
	return pic, render(&pic, w, 5*vg.Inch, func(c draw.Canvas) { drawWithLegend(p, leg, c) })
}

// setQuartiles makes a gonum box plot (which uses Tukey's hinges) show the quartiles of s, the
// ones in the report's table, with whiskers to the furthest values within 1.5 IQR.
func setQuartiles(b *plotter.BoxPlot, s Spread) {
	b.Median, b.Quartile1, b.Quartile3 = 100*s.Median, 100*s.Q1, 100*s.Q3
	lo, hi := b.Quartile1-1.5*(b.Quartile3-b.Quartile1), b.Quartile3+1.5*(b.Quartile3-b.Quartile1)
	b.AdjLow, b.AdjHigh = math.Inf(1), math.Inf(-1)
	b.Outside = b.Outside[:0]
	for i, v := range b.Values {
		if v < lo || v > hi {
			b.Outside = append(b.Outside, i)
			continue
		}
		b.AdjLow, b.AdjHigh = math.Min(b.AdjLow, v), math.Max(b.AdjHigh, v)
	}
}

// curvesPicture: test accuracy after every epoch, one line per run, coloured by arm; runs that
// failed are dashed, unfinished ones dotted.
func (r *Report) curvesPicture() (Picture, error) {
	pic := Picture{
		Name:  "curves",
		Title: "Test accuracy per epoch, every run",
		Caption: "One line per run (seed), coloured by arm. Solid: trained; dashed: failed or diverged; " +
			"dotted: still running or interrupted. Dashed grey line: chance accuracy.",
	}
	p := plot.New()
	p.Title.Text = pic.Title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "test accuracy"
	p.Y.Tick.Marker = percentTicks{}
	p.Y.Min, p.Y.Max = 0, 100
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	maxEpoch := 1
	for _, run := range r.Sweep.Runs {
		for _, pt := range epochAccuracy(run.Metrics) {
			maxEpoch = max(maxEpoch, int(pt.X))
		}
	}
	p.X.Min, p.X.Max = 0.8, float64(maxEpoch)+0.2
	p.X.Tick.Marker = integerTicks{last: float64(maxEpoch)}
	// The chance line goes under the runs, so that the failed runs along it stay in sight.
	if l, ok := r.chanceLine(p.X.Min, p.X.Max); ok {
		p.Add(l)
		leg.Add("chance", l)
	}
	styles := map[string]bool{}
	for i, a := range r.Arms {
		drawn := false
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name {
				continue
			}
			pts := epochAccuracy(run.Metrics)
			if len(pts) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return pic, fmt.Errorf("report: curves picture: %s/%d: %w", run.Arm, run.Seed, err)
			}
			l.Color = armColor(i)
			l.Width = vg.Points(1.2)
			s.Color = armColor(i)
			s.Radius = vg.Points(1.5)
			switch {
			case run.Summary == nil:
				l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
				styles["running"] = true
			case run.Summary.Failed():
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				l.Width = vg.Points(2.2)
				styles["failed"] = true
			default:
				styles["trained"] = true
			}
			p.Add(l, s)
			drawn = true
		}
		if drawn {
			leg.Add(a.Arm.Name, swatch(armColor(i), nil))
		}
	}
	for _, st := range []struct {
		key, name string
		dashes    []vg.Length
	}{
		{"trained", "trained run", nil},
		{"failed", "failed or diverged run", []vg.Length{vg.Points(5), vg.Points(3)}},
		{"running", "still running", []vg.Length{vg.Points(1), vg.Points(2)}},
	} {
		if styles[st.key] {
			sw := swatch(color.Gray{0x40}, st.dashes)
			sw.Width = vg.Points(1.2)
			leg.Add(st.name, sw)
		}
	}
	return pic, render(&pic, 9*vg.Inch, 5*vg.Inch, func(c draw.Canvas) { drawWithLegend(p, leg, c) })
}

// epochAccuracy is a run's test accuracy (percent) per epoch, from the last "epoch" line of
// each epoch: a run stopped mid-epoch by --max-steps writes a line for the partial epoch, and
// after a resume another for the whole one.
func epochAccuracy(ms []runlog.Record) plotter.XYs {
	var last []runlog.Record
	for _, m := range ms {
		if m.Kind != "epoch" {
			continue
		}
		if n := len(last); n > 0 && last[n-1].Epoch == m.Epoch {
			last[n-1] = m
		} else {
			last = append(last, m)
		}
	}
	var pts plotter.XYs
	for _, m := range last {
		if m.TestAcc != nil {
			pts = append(pts, plotter.XY{X: float64(m.Epoch), Y: 100 * float64(*m.TestAcc)})
		}
	}
	return pts
}

// integerTicks labels whole numbers (epochs) up to last, at most about ten of them.
type integerTicks struct{ last float64 }

func (t integerTicks) Ticks(min, max float64) []plot.Tick {
	max = math.Min(max, t.last)
	step := math.Max(1, math.Ceil((max-min)/10))
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ticks
}

// plainTicks are gonum's default tick positions labelled without trailing zeros (25, not 25.00).
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}

// thinSteps keeps at most n of the sorted steps, evenly spaced, always with the last one.
func thinSteps(steps []int, n int) []int {
	if len(steps) <= n {
		return steps
	}
	out := make([]int, n)
	for i := range out {
		out[i] = steps[(i+1)*len(steps)/n-1]
	}
	return out
}

// heatColors is the heat maps' colour scale on [0, top]: white for none through yellow and red to
// black, and a palette of it for the cells.
func heatColors(top float64) (palette.ColorMap, palette.Palette) {
	cmap := palette.Reverse(moreland.ExtendedBlackBody())
	cmap.SetMin(0)
	cmap.SetMax(top)
	// An even count: gonum v0.17's palette.Reverse leaves the middle colour of an odd-sized
	// palette nil, which the heat map would skip (a white cell).
	return cmap, cmap.Palette(256)
}

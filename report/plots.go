package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"rout/runlog"
	"slices"
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

// Pictures draws the report's three figures: final accuracy per arm, test accuracy per epoch of
// every run, and re-initialisations per layer over training.
func (r *Report) Pictures() ([]Picture, error) {
	var pics []Picture
	for _, f := range []func() (Picture, error){r.accuracyPicture, r.curvesPicture, r.reinitsPicture} {
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
// within 1.5 IQR) with every finished run as a jittered point; failures in red.
func (r *Report) accuracyPicture() (Picture, error) {
	pic := Picture{
		Name:  "accuracy",
		Title: "Final test accuracy per arm",
		Caption: "Box: quartiles and median of the final test accuracy of all finished runs of each arm " +
			"(whiskers to the furthest runs within 1.5 IQR). Points: every finished run, jittered sideways; " +
			"red crosses failed to train, red triangles diverged (drawn at chance accuracy, as they count). Dashed line: chance accuracy.",
	}
	p := plot.New()
	p.Title.Text = pic.Title
	p.Y.Label.Text = "final test accuracy"
	p.Y.Tick.Marker = percentTicks{}
	p.Y.Min, p.Y.Max = 0, 100
	p.Add(plotter.NewGrid())
	var names []string
	jitter := rng.NewStream(rng.KeyFromSeed(jitterSeed), 0, 0, 0)
	ok := plotter.XYs{}
	var okColors []color.Color
	var failed, diverged plotter.XYs
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
		}
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name || run.Summary == nil {
				continue
			}
			acc, scored := Score(run.Summary)
			if !scored {
				continue
			}
			pt := plotter.XY{X: float64(i) + 0.3*(2*float64(jitter.Float32())-1), Y: 100 * acc}
			switch run.Summary.Status {
			case runlog.StatusFailed:
				failed = append(failed, pt)
			case runlog.StatusDiverged:
				diverged = append(diverged, pt)
			default:
				ok = append(ok, pt)
				okColors = append(okColors, armColor(i))
			}
		}
	}
	p.NominalX(names...)
	// Leave an empty column on the right for the legend.
	p.X.Min, p.X.Max = -0.6, float64(len(r.Arms))-0.4+0.9
	if l, ok := r.chanceLine(p.X.Min, float64(len(r.Arms))-0.4); ok {
		p.Add(l)
		p.Legend.Add("chance", l)
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
		p.Legend.Add("trained", s)
	}
	for _, g := range []struct {
		pts   plotter.XYs
		name  string
		shape draw.GlyphDrawer
	}{{failed, "failed", draw.CrossGlyph{}}, {diverged, "diverged", draw.TriangleGlyph{}}} {
		if len(g.pts) == 0 {
			continue
		}
		s, err := plotter.NewScatter(g.pts)
		if err != nil {
			return pic, fmt.Errorf("report: accuracy picture: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: failColor, Radius: vg.Points(4), Shape: g.shape}
		p.Add(s)
		p.Legend.Add(g.name, s)
	}
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(8)
	w := vg.Length(math.Max(6, 2.2+1.6*float64(len(r.Arms)))) * vg.Inch
	return pic, render(&pic, w, 5*vg.Inch, func(c draw.Canvas) { p.Draw(c) })
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
	maxEpoch := 1
	for i, a := range r.Arms {
		var first *plotter.Line
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name {
				continue
			}
			pts := epochAccuracy(run.Metrics)
			for _, pt := range pts {
				maxEpoch = max(maxEpoch, int(pt.X))
			}
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
			case run.Summary.Failed():
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(l, s)
			if first == nil {
				first = l
			}
		}
		if first != nil {
			swatch := *first
			swatch.Dashes = nil
			swatch.Width = vg.Points(3)
			p.Legend.Add(a.Arm.Name, &swatch)
		}
	}
	p.X.Min, p.X.Max = 0.8, float64(maxEpoch)*1.3+0.2
	p.X.Tick.Marker = integerTicks{last: float64(maxEpoch)}
	if l, ok := r.chanceLine(p.X.Min, float64(maxEpoch)+0.2); ok {
		p.Add(l)
	}
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(8)
	return pic, render(&pic, 8*vg.Inch, 5*vg.Inch, func(c draw.Canvas) { p.Draw(c) })
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

// integerTicks labels whole numbers (epochs) up to last, at most about ten of them; the axis may
// run further to leave room for the legend.
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

// reinitGrid is the mean cumulative re-init count per run of one arm, per layer (rows, in network
// order from the top) and logged step (columns), on a log scale: log10(1 + count).
type reinitGrid struct {
	steps  []float64
	layers int
	z      [][]float64 // z[row][col]
}

func (g *reinitGrid) Dims() (c, r int)   { return len(g.steps), g.layers }
func (g *reinitGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g *reinitGrid) X(c int) float64    { return g.steps[c] }
func (g *reinitGrid) Y(r int) float64    { return float64(g.layers - 1 - r) }

// reinitGridFor averages, at every step logged by the arm's runs, the cumulative re-inits of the
// runs that got that far (a run's count holds between its log lines).
func (r *Report) reinitGridFor(arm string) *reinitGrid {
	g := &reinitGrid{layers: len(r.Layers)}
	layerIndex := map[string]int{}
	for i, l := range r.Layers {
		layerIndex[l] = i
	}
	stepSet := map[int]bool{}
	var runs [][]runlog.Record
	for _, run := range r.Sweep.Runs {
		if run.Arm != arm || len(run.Metrics) == 0 {
			continue
		}
		var ms []runlog.Record
		for _, m := range run.Metrics {
			if len(m.Reinits.Layers) > 0 {
				ms = append(ms, m)
				stepSet[m.Step] = true
			}
		}
		slices.SortStableFunc(ms, func(a, b runlog.Record) int { return a.Step - b.Step })
		runs = append(runs, ms)
	}
	steps := make([]int, 0, len(stepSet))
	for s := range stepSet {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	steps = thinSteps(steps, maxHeatColumns)
	for _, s := range steps {
		g.steps = append(g.steps, float64(s))
	}
	g.z = make([][]float64, g.layers)
	for l := range g.z {
		g.z[l] = make([]float64, len(steps))
	}
	for c, s := range steps {
		sums := make([]float64, g.layers)
		var n int
		for _, ms := range runs {
			if len(ms) == 0 || ms[len(ms)-1].Step < s {
				continue // this run has not got this far
			}
			n++
			k, _ := slices.BinarySearchFunc(ms, s, func(m runlog.Record, s int) int { return m.Step - s })
			if k == len(ms) || ms[k].Step > s {
				k-- // the last line at or before s
			}
			if k < 0 {
				continue
			}
			for i, l := range ms[k].Reinits.Layers {
				sums[layerIndex[l]] += float64(ms[k].Reinits.Counts[i])
			}
		}
		for l := range sums {
			if n > 0 {
				g.z[l][c] = math.Log10(1 + sums[l]/float64(n))
			}
		}
	}
	return g
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

// maxHeatColumns bounds the columns of a re-init heat map: a long run logged often would otherwise
// make an SVG of hundreds of thousands of cells. Cumulative counts lose nothing visible by it.
const maxHeatColumns = 120

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

// countTicks labels a log10(1 + count) axis with round counts.
type countTicks struct{}

func (countTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for _, c := range []float64{0, 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7} {
		if v := math.Log10(1 + c); v >= min-1e-9 && v <= max+1e-9 {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(c, 'f', -1, 64)})
		}
	}
	return ticks
}

// reinitColors is the heat map's colour scale on [0, top]: white for none through yellow and red to
// black, and a palette of it for the cells.
func reinitColors(top float64) (palette.ColorMap, palette.Palette) {
	cmap := palette.Reverse(moreland.ExtendedBlackBody())
	cmap.SetMin(0)
	cmap.SetMax(top)
	// An even count: gonum v0.17's palette.Reverse leaves the middle colour of an odd-sized
	// palette nil, which the heat map would skip (a white cell).
	return cmap, cmap.Palette(256)
}

// reinitsPicture: one heat map per arm, layers down, training steps across, colour the mean
// cumulative number of re-initialised filters per run (log scale), with a shared colour bar.
func (r *Report) reinitsPicture() (Picture, error) {
	pic := Picture{
		Name:  "reinits",
		Title: "Re-initialised filters per layer over training",
		Caption: "One panel per arm: rows are the convolutional layers (input at the top), columns the " +
			"logged training steps; colour is the cumulative number of filters re-initialised so far, " +
			"averaged over the arm's runs that reached that step (log scale). White: none.",
	}
	grids := make([]*reinitGrid, len(r.Arms))
	top := math.Log10(2) // at least 0..1 re-init on the colour scale
	for i, a := range r.Arms {
		grids[i] = r.reinitGridFor(a.Arm.Name)
		for _, row := range grids[i].z {
			for _, v := range row {
				top = math.Max(top, v)
			}
		}
	}
	cmap, pal := reinitColors(top)

	var panels []*plot.Plot
	for i, a := range r.Arms {
		p := plot.New()
		p.Title.Text = a.Arm.Name
		if i == 0 {
			p.Title.Text = pic.Title + ": " + a.Arm.Name
		}
		p.X.Label.Text = "training step"
		p.X.Tick.Marker = plainTicks{}
		g := grids[i]
		if len(g.steps) > 0 && g.layers > 0 {
			hm := plotter.NewHeatMap(g, pal)
			hm.Min, hm.Max = 0, top
			p.Add(hm)
		} else {
			p.X.Label.Text = "training step (no re-init counts logged)"
			p.X.Min, p.X.Max = 0, 1
		}
		var ticks []plot.Tick
		for l, name := range r.Layers {
			ticks = append(ticks, plot.Tick{Value: float64(len(r.Layers) - 1 - l), Label: name})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min, p.Y.Max = -0.5, float64(len(r.Layers))-0.5
		panels = append(panels, p)
	}
	bar := plot.New()
	bar.X.Label.Text = "mean cumulative re-inits per run (log scale)"
	bar.X.Tick.Marker = countTicks{}
	bar.HideY()
	bar.Add(&plotter.ColorBar{ColorMap: cmap})

	rowH := vg.Length(math.Max(1.6, 0.16*float64(len(r.Layers))+1.0)) * vg.Inch
	barH := 1.0 * vg.Inch
	w := 8 * vg.Inch
	h := rowH*vg.Length(len(panels)) + barH
	return pic, render(&pic, w, h, func(c draw.Canvas) {
		barCanvas := draw.Crop(c, 0, 0, 0, -(h - barH))
		panelCanvas := draw.Crop(c, 0, 0, barH, 0)
		rows := make([][]*plot.Plot, len(panels))
		for i, p := range panels {
			rows[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}
		aligned := plot.Align(rows, tiles, panelCanvas)
		for i, cs := range aligned {
			panels[i].Draw(cs[0])
		}
		// Indent the colour bar to sit under the heat maps (past the layer names).
		indent := panels[0].DataCanvas(aligned[0][0]).Min.X - c.Min.X
		bar.Draw(draw.Crop(barCanvas, indent, -vg.Points(10), vg.Points(4), -vg.Points(8)))
	})
}

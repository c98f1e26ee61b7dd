package bench

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// modeStyle gives each mode one colour and marker in every plot.
var modeStyle = map[Mode]struct {
	color color.Color
	shape draw.GlyphDrawer
}{
	Event:    {color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, draw.CircleGlyph{}},
	Poll:     {color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff}, draw.SquareGlyph{}},
	Fallback: {color.RGBA{R: 0xe6, G: 0xab, B: 0x02, A: 0xff}, draw.TriangleGlyph{}},
	Original: {color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}, draw.CrossGlyph{}},
}

// Plots writes the four PNGs of docs/performance.md into dir.
func (r Report) Plots(dir string) error {
	n := r.largest()
	lengths := r.sortedLengths()
	perLength := func(get func(Cell) float64, withDay func(DayLong) (float64, bool)) map[Mode]plotter.XYs {
		out := map[Mode]plotter.XYs{}
		for _, mode := range Modes {
			for _, l := range lengths {
				if c, ok := r.cell(mode, l, n); ok {
					if v := get(c); !math.IsNaN(v) && v > 0 {
						out[mode] = append(out[mode], plotter.XY{X: float64(l), Y: v})
					}
				}
			}
			if withDay == nil {
				continue
			}
			if d, ok := r.DayLongPoint(mode); ok {
				if v, ok := withDay(d); ok && v > 0 {
					out[mode] = append(out[mode], plotter.XY{X: 24 * 60, Y: v})
				}
			}
		}
		return out
	}
	plots := []struct {
		file, title, x, y string
		series            map[Mode]plotter.XYs
	}{
		{"latency.png", fmt.Sprintf("Completion latency, p50 (%d targets)", n), "build length (minutes)", "seconds from build end to task closed",
			perLength(func(c Cell) float64 { return c.P50.Median }, nil)},
		{"transitions.png", "State transitions per target", "build length (minutes; 1440 computed)", "transitions per target",
			perLength(func(c Cell) float64 { return c.TransPerTarget.Median }, func(d DayLong) (float64, bool) { return d.Transitions, true })},
		{"cost.png", "Cost per 1,000 builds, list prices", "build length (minutes; 1440 computed)", "US dollars",
			perLength(func(c Cell) float64 { return CostPer1000(c.Figures()).Total() }, func(d DayLong) (float64, bool) { return CostPer1000(d.Figures).Total(), true })},
	}
	for _, p := range plots {
		if err := save(filepath.Join(dir, p.file), p.title, p.x, p.y, p.series); err != nil {
			return err
		}
	}
	// Wall time against target count, at the middle build length.
	l := lengths[len(lengths)/2]
	wall := map[Mode]plotter.XYs{}
	for _, mode := range Modes {
		for _, t := range r.Matrix.Targets {
			if c, ok := r.cell(mode, l, t); ok && c.Span.Median > 0 {
				wall[mode] = append(wall[mode], plotter.XY{X: float64(t), Y: c.Span.Median})
			}
		}
	}
	return save(filepath.Join(dir, "wall.png"), fmt.Sprintf("Wall time for N targets (%d-minute builds)", l), "targets", "seconds", wall)
}

func save(path, title, x, y string, series map[Mode]plotter.XYs) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	var xs, ys []float64
	for _, pts := range series {
		for _, pt := range pts {
			xs, ys = append(xs, pt.X), append(ys, pt.Y)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	p.X.Min, p.X.Max = logRange(xs)
	p.Y.Min, p.Y.Max = logRange(ys)
	for _, mode := range Modes {
		pts := series[mode]
		if len(pts) == 0 {
			continue
		}
		ln, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		st := modeStyle[mode]
		ln.Color, sc.Color, sc.Shape = st.color, st.color, st.shape
		ln.Width = vg.Points(1.5)
		p.Add(ln, sc)
		p.Legend.Add(string(mode), ln, sc)
	}
	if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// logRange is a positive axis range around xs, a decade wide at least, so a log axis
// always has ticks.
func logRange(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

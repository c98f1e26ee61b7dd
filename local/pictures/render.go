package pictures

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi of every picture; sizes are given in pixels.
const dpi = 96

// px converts pixels to the plot's length unit.
func px(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }

// gridColumns is the width of CloudWatch's dashboard grid.
const gridColumns = 24

// DashboardWidth is the dashboard picture's width in pixels; its height follows from the
// widgets' grid rows, each a twenty-fourth of the width high.
const DashboardWidth = 1600

// palette colours a widget's lines in order (ColorBrewer Dark2, then Set1).
var palette = []color.RGBA{
	{0x1b, 0x9e, 0x77, 0xff}, {0xd9, 0x5f, 0x02, 0xff}, {0x75, 0x70, 0xb3, 0xff}, {0xe7, 0x29, 0x8a, 0xff},
	{0x66, 0xa6, 0x1e, 0xff}, {0xe6, 0xab, 0x02, 0xff}, {0xa6, 0x76, 0x1d, 0xff}, {0x66, 0x66, 0x66, 0xff},
	{0xe4, 0x1a, 0x1c, 0xff}, {0x37, 0x7e, 0xb8, 0xff},
}

// legendRowShare is the share of a widget's height one legend row takes.
const legendRowShare = 0.07

// DrawnWidget is what one widget of a picture holds: its title, the metric and legend
// label of each line, and the note written on it when there was nothing to draw.
type DrawnWidget struct {
	Title   string
	Metrics []Metric
	Lines   []string
	Note    string
}

// DashboardSize is the picture's size in pixels for d.
func DashboardSize(d Dashboard) (width, height int) {
	rows := 0
	for _, w := range d.Widgets {
		rows = max(rows, w.Y+w.Height)
	}
	return DashboardWidth, rows * DashboardWidth / gridColumns
}

// RenderDashboard draws every metric widget of d where the dashboard places it, with r's
// numbers computed over periods of period (CloudWatch's statistics, per period), and writes
// a PNG. A local run lasts a minute, not the dashboard's hours, so the period is shorter
// than the dashboard's and each widget's axis says so. It returns what it drew.
func RenderDashboard(out io.Writer, d Dashboard, r Recording, period time.Duration) ([]DrawnWidget, error) {
	if len(d.Widgets) == 0 {
		return nil, fmt.Errorf("the dashboard has no metric widget")
	}
	if period <= 0 {
		return nil, fmt.Errorf("period %s: want a positive period", period)
	}
	width, height := DashboardSize(d)
	canvas := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(dpi))
	dc := draw.New(canvas)
	unit := width / gridColumns
	var drawn []DrawnWidget
	for _, w := range d.Widgets {
		p, dw, err := widgetPlot(w, r, period)
		if err != nil {
			return nil, err
		}
		// The grid counts rows from the top; the canvas's y axis points up.
		rect := vg.Rectangle{
			Min: vg.Point{X: px(w.X * unit), Y: px(height - (w.Y+w.Height)*unit)},
			Max: vg.Point{X: px((w.X + w.Width) * unit), Y: px(height - w.Y*unit)},
		}
		tile := draw.Crop(draw.Canvas{Canvas: dc.Canvas, Rectangle: rect}, px(8), -px(8), px(8), -px(8))
		p.Draw(tile)
		drawn = append(drawn, dw)
	}
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(out); err != nil {
		return nil, fmt.Errorf("write dashboard picture: %w", err)
	}
	return drawn, nil
}

// widgetPlot draws one widget: a line per metric (stacked when the widget is), an empty
// plot with a note when the local runtime records none of its metrics or none occurred.
func widgetPlot(w Widget, r Recording, period time.Duration) (*plot.Plot, DrawnWidget, error) {
	p := plot.New()
	p.Title.Text = w.Title
	span := r.End.Sub(r.Start)
	periods := math.Max(1, math.Ceil(span.Seconds()/period.Seconds()))
	p.X.Min, p.X.Max = 0, periods*period.Seconds()
	p.X.Label.Text = fmt.Sprintf("seconds into the local run (%s periods; the dashboard's: %s)", period, widgetPeriod(w))
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())

	dw := DrawnWidget{Title: w.Title}
	var unrecorded []string
	recorded, points := 0, 0
	stack := map[float64]float64{} // running totals of a stacked widget, by x
	type line struct {
		label string
		pts   plotter.XYs
		style draw.LineStyle
	}
	var lines []line
	for i, m := range w.Metrics {
		label := m.Label
		if m.Right {
			label += " (right axis)"
		}
		style := draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(1.5)}
		if _, ok := r.source(m); !ok {
			unrecorded = append(unrecorded, m.Namespace+" "+m.Name)
			label += ": no local source"
			style.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		} else {
			recorded++
		}
		var pts plotter.XYs
		for _, pt := range r.series(m, period) {
			y := pt.Y
			if w.Stacked {
				stack[pt.X] += y
				y = stack[pt.X]
			}
			pts = append(pts, plotter.XY{X: pt.X, Y: y})
		}
		points += len(pts)
		lines = append(lines, line{label, pts, style})
		dw.Metrics = append(dw.Metrics, m)
		dw.Lines = append(dw.Lines, label)
	}
	// Stacked areas are filled from the top total down, so each band shows.
	for i := len(lines) - 1; i >= 0 && w.Stacked; i-- {
		if len(lines[i].pts) > 1 {
			area, err := plotter.NewLine(lines[i].pts)
			if err != nil {
				return nil, dw, fmt.Errorf("%s: %w", w.Title, err)
			}
			c := lines[i].style.Color.(color.RGBA)
			area.LineStyle.Width = 0
			area.FillColor = color.NRGBA{c.R, c.G, c.B, 0x40}
			p.Add(area)
		}
	}
	for _, l := range lines {
		thumb := &plotter.Line{LineStyle: l.style}
		if len(l.pts) > 0 {
			ln, sc, err := plotter.NewLinePoints(l.pts)
			if err != nil {
				return nil, dw, fmt.Errorf("%s: %w", w.Title, err)
			}
			ln.LineStyle = l.style
			sc.Color, sc.Radius = l.style.Color, vg.Points(3)
			p.Add(ln, sc)
		}
		p.Legend.Add(l.label, thumb)
	}

	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1 // an empty or all-zero widget; gonum would centre zero on -1 to 1
	}
	// Room above the data for the legend, which would otherwise hide the first points.
	p.Y.Max *= 1 + legendRowShare*float64(len(lines))
	switch {
	case recorded == 0:
		dw.Note = "not recorded by the local runtime: " + strings.Join(slices.Compact(unrecorded), ", ")
	case points == 0:
		dw.Note = "no data points in this run"
	}
	if dw.Note != "" {
		note, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: (p.X.Min + p.X.Max) / 2, Y: 0.4}},
			Labels: []string{dw.Note},
		})
		if err != nil {
			return nil, dw, fmt.Errorf("%s: %w", w.Title, err)
		}
		note.TextStyle[0].XAlign = draw.XCenter
		note.TextStyle[0].Color = color.Gray{0x60}
		p.Add(note)
	}
	return p, dw, nil
}

// widgetPeriod is the period the dashboard plots w with.
func widgetPeriod(w Widget) time.Duration {
	period := defaultPeriod
	if len(w.Metrics) > 0 {
		period = w.Metrics[0].Period
	}
	return time.Duration(period) * time.Second
}

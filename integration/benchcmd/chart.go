package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strings"
)

// The chart: one horizontal bar per target, its length how far inside the
// target the measurement is (1 = exactly on it), green when met and red
// when not, grouped by latency; a blue tick marks where the null FUSE
// ceiling would put the bar.

var (
	colBG     = color.RGBA{255, 255, 255, 255}
	colText   = color.RGBA{20, 20, 20, 255}
	colMuted  = color.RGBA{110, 110, 110, 255}
	colGrid   = color.RGBA{225, 225, 225, 255}
	colTarget = color.RGBA{40, 40, 40, 255}
	colMet    = color.RGBA{46, 160, 67, 255}
	colMissed = color.RGBA{214, 57, 57, 255}
	colNone   = color.RGBA{170, 170, 170, 255}
	colCeil   = color.RGBA{40, 90, 200, 255}
)

// Chart geometry, in pixels.
const (
	chartScale = 2   // font pixel size
	chartPad   = 24  // outer margin
	rowH       = 26  // one bar's row
	barH       = 16  // one bar
	unitW      = 220 // bar length of score 1 (the target)
	maxScore   = 2.0 // longer bars are cut here
	gap        = 16  // between columns
)

// chartEntry is one bar.
type chartEntry struct {
	group string  // heading above it
	label string  // left of the bar
	value string  // right of the bar
	score float64 // 1 = on target
	met   bool
	blank bool    // no bar: skipped or failed
	ceil  float64 // the null FUSE ceiling's score, drawn as a tick (0 = none)
}

// score says how far inside its target a check is: measured ÷ target for
// "at least" targets, (target+1) ÷ (measured+1) for "at most" targets
// (counts may be 0), 1 or 0 for yes/no facts.
func score(c check) float64 {
	switch c.Op {
	case ">=":
		if c.Want == 0 {
			return maxScore
		}
		return c.Got / c.Want
	case "<=":
		return (c.Want + 1) / (c.Got + 1)
	}
	if c.Met {
		return 1
	}
	return 0
}

// chartEntries turns the rows into bars.
func (rep *report) chartEntries() []chartEntry {
	var out []chartEntry
	for _, r := range rep.Rows {
		group := fmt.Sprintf("%g MS ROUND TRIP", 2*r.LatencyMs)
		if r.ID == "peak-rss" {
			group = "MEMORY"
		}
		label := strings.ToUpper(r.ID)
		switch {
		case r.Skipped != "" || r.Error != "":
			if hasTargets(r.ID) {
				out = append(out, chartEntry{group: group, label: label, value: map[bool]string{true: "SKIPPED", false: "FAILED"}[r.Skipped != ""], blank: true})
			}
			continue
		}
		for _, c := range r.Checks {
			e := chartEntry{group: group, label: label + " " + strings.ToUpper(c.Key), score: score(c), met: c.Met}
			if c.Op == "==" {
				e.value = map[bool]string{true: "YES", false: "NO"}[c.Got == 1]
			} else {
				unit := strings.ReplaceAll(strings.ToUpper(c.Unit), "×", "X")
				if unit == "REQUESTS" {
					unit = " REQ"
				} else if unit == "MIB" {
					unit = " MIB"
				}
				e.value = fmt.Sprintf("%s%s (%s %s)", num(c.Got), unit, c.Op, num(c.Want))
			}
			if ratio, ok := r.Extra["null_fuse_ratio"].(float64); ok && c.Key == "speed/curl" && c.Want > 0 {
				e.ceil = ratio / c.Want
				e.value += fmt.Sprintf(" CEILING %.2fX", ratio)
			}
			out = append(out, e)
		}
	}
	return out
}

// hasTargets reports whether a row id is judged against a target.
func hasTargets(id string) bool { return id != "saves" && id != "untar" && id != "rand4k-runs" }

// writePNG draws the chart.
func (rep *report) writePNG(w io.Writer) error {
	entries := rep.chartEntries()
	labelW, valueW := 0, 0
	groups := 0
	for i, e := range entries {
		labelW = max(labelW, textWidth(e.label, chartScale))
		valueW = max(valueW, textWidth(e.value, chartScale))
		if i == 0 || e.group != entries[i-1].group {
			groups++
		}
	}
	title := "ARKERFS BENCHMARKS: MEASURED AGAINST TARGET"
	legend := []string{
		"BAR = HOW FAR INSIDE THE TARGET: MEASURED/TARGET FOR AT-LEAST TARGETS,",
		"(TARGET+1)/(MEASURED+1) FOR AT-MOST TARGETS. LINE = TARGET. GREEN MET, RED NOT MET.",
		"BLUE TICK = NULL FUSE CEILING: THE BEST ANY FUSE FILESYSTEM COULD DO HERE.",
	}
	lineH := (glyphH + 3) * chartScale
	barX := chartPad + labelW + gap
	width := max(barX+int(maxScore*unitW)+gap+valueW+chartPad, chartPad*2+textWidth(legend[1], chartScale))
	headH := (glyphH+4)*3 + (1+len(legend))*lineH + 10
	height := chartPad*2 + headH + groups*(lineH+8) + len(entries)*rowH
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBG}, image.Point{}, draw.Src)
	y := chartPad
	drawText(img, chartPad, y, title, 3, colText)
	y += (glyphH + 4) * 3
	drawText(img, chartPad, y, rep.Contract.chartText(), chartScale, colText)
	y += lineH
	for _, l := range legend {
		drawText(img, chartPad, y, l, chartScale, colMuted)
		y += lineH
	}
	y += 10
	for i, e := range entries {
		if i == 0 || e.group != entries[i-1].group {
			y += 8
			drawText(img, chartPad, y, e.group, chartScale, colText)
			y += lineH
		}
		drawEntry(img, e, y, barX)
		y += rowH
	}
	return png.Encode(w, img)
}

// drawEntry draws one bar row with its top at y.
func drawEntry(img *image.RGBA, e chartEntry, y, barX int) {
	textY := y + (rowH-glyphH*chartScale)/2
	drawText(img, chartPad, textY, e.label, chartScale, colText)
	full := int(maxScore * unitW)
	barY := y + (rowH-barH)/2
	fill(img, barX, barY, full, barH, colGrid)
	valueX := barX + full + gap
	if e.blank {
		drawText(img, valueX, textY, e.value, chartScale, colNone)
		return
	}
	s := min(max(e.score, 0), maxScore)
	c := colMissed
	if e.met {
		c = colMet
	}
	fill(img, barX, barY, max(int(s*unitW), 2), barH, c)
	if e.score > maxScore { // cut: mark the end
		fill(img, barX+full-6, barY, 2, barH, colBG)
	}
	fill(img, barX+unitW-1, y+2, 2, rowH-4, colTarget)
	if e.ceil > 0 {
		fill(img, barX+int(min(e.ceil, maxScore)*unitW)-2, y, 4, rowH, colCeil)
	}
	drawText(img, valueX, textY, e.value, chartScale, colText)
}

// fill paints a w×h rectangle at (x, y).
func fill(img *image.RGBA, x, y, w, h int, c color.Color) {
	draw.Draw(img, image.Rect(x, y, x+w, y+h), &image.Uniform{c}, image.Point{}, draw.Src)
}

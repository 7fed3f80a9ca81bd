package cli

import (
	"fmt"
	"io"
)

// progressWidth keeps the line short enough not to wrap on a terminal of
// unknown width.
const progressWidth = 79

// progress draws one status line on a terminal, rewriting it in place.
// Off a terminal it draws nothing, so logs and pipes stay clean.
type progress struct {
	w     io.Writer
	on    bool
	drawn bool
	cols  int // terminal width; 0 if unknown
}

// newProgress returns a progress line on stderr, drawn only on a terminal.
func (g *globals) newProgress() *progress {
	return &progress{w: g.env.Stderr, on: g.env.Terminal, cols: g.env.Width}
}

// width is the longest line drawn: one less than the terminal's width, so
// the cursor never wraps.
func (p *progress) width() int {
	if p.cols > 1 {
		return p.cols - 1
	}
	return progressWidth
}

// update replaces the line with the formatted text.
func (p *progress) update(format string, args ...any) {
	if !p.on {
		return
	}
	line := []rune(fmt.Sprintf(format, args...))
	if w := p.width(); len(line) > w {
		line = append(line[:w-1], '…')
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", string(line))
	p.drawn = true
}

// clear removes the line, leaving the cursor at the start of an empty line.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

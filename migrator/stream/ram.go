package stream

import "fmt"

// ramSection starts reading a RAM section body: records up to EOS.
func (w *Writer) ramSection() error {
	m := &w.m
	m.sum.Sections++
	m.v.Event(Event{Kind: EventSection, Offset: w.elemAt, Type: w.secType, Section: w.secID, Name: ramSection})
	return w.nextRecord()
}

// nextRecord holds the bytes from here: the visitor sees a page record
// whole before it is forwarded.
func (w *Writer) nextRecord() error {
	w.m.holdFrom()
	return w.m.expect(8, stRecWord)
}

func (w *Writer) stepRAM(st state, b []byte) error {
	m := &w.m
	switch st {
	case stRecWord:
		return w.recordWord(be64(b))
	case stRecIDLen:
		if b[0] == 0 {
			return malformedf("RAM record with an empty block name")
		}
		return m.expect(int(b[0]), stRecID)
	case stRecID:
		blk, ok := w.blocks[string(b)]
		if !ok {
			return malformedf("RAM record for block %q, not in MEM_SIZE", b)
		}
		w.cur = blk
		return w.payload()
	case stZeroFill:
		return w.visit(true, b[0])
	case stPageDone:
		return w.visit(false, 0)
	case stMemLen:
		if b[0] == 0 {
			return malformedf("MEM_SIZE lists an empty block name")
		}
		return m.expect(int(b[0]), stMemName)
	case stMemName:
		w.memName = string(b)
		if _, dup := w.blocks[w.memName]; dup {
			return malformedf("MEM_SIZE lists block %q twice", w.memName)
		}
		return m.expect(8, stMemUsed)
	case stMemUsed:
		used := be64(b)
		if used > w.memLeft {
			return malformedf("MEM_SIZE: block %q of %d bytes, only %d left of the total", w.memName, used, w.memLeft)
		}
		w.memLeft -= used
		w.blocks[w.memName] = &ramBlock{name: w.memName, used: used}
		m.sum.Blocks = append(m.sum.Blocks, Block{Name: w.memName, Length: used})
		if w.ignShare {
			return m.expect(8, stMemAddr)
		}
		return w.nextBlock()
	case stMemAddr:
		return w.nextBlock()
	}
	return fmt.Errorf("stream: no step for state %d", st) // a bug, not input
}

// recordWord dispatches a RAM record on its flags.
func (w *Writer) recordWord(word uint64) error {
	m := &w.m
	w.word = word
	flags := word & flagMask
	switch flags &^ flagContinue {
	case flagEOS:
		m.release()
		return m.expect(5, stFooter)
	case flagMemSize:
		m.release()
		if w.secType != secStart {
			return malformedf("MEM_SIZE outside the RAM section's START")
		}
		total := word &^ flagMask
		if total > maxRAMBytes {
			return malformedf("MEM_SIZE of %d bytes", total)
		}
		w.memLeft = total
		return w.nextBlock()
	case flagZero, flagPage:
		if flags&flagContinue == 0 {
			return m.expect(1, stRecIDLen)
		}
		if w.cur == nil {
			return malformedf("RAM record continues a block never named")
		}
		return w.payload()
	case flagXBZRLE:
		return w.opaque("xbzrle page records (flag 0x40)", true)
	case flagCompress:
		return w.opaque("compressed page records (flag 0x100)", true)
	case flagHook:
		return w.opaque("RDMA hook records (flag 0x80)", true)
	}
	return w.opaque(fmt.Sprintf("unknown RAM record flags %#x", flags), true)
}

// payload checks the record's offset and reads its fill byte or lets its
// page go by.
func (w *Writer) payload() error {
	off := w.word &^ flagMask
	if off >= w.cur.used {
		return malformedf("RAM record at %#x beyond block %q's %d bytes", off, w.cur.name, w.cur.used)
	}
	if w.word&flagZero != 0 {
		return w.m.expect(1, stZeroFill)
	}
	return w.m.pass(PageSize, stPageDone)
}

// visit reports the complete record, forwards it and reads the next.
func (w *Writer) visit(zero bool, fill byte) error {
	m := &w.m
	rec := m.record()
	pg := Page{Block: w.cur.name, Offset: w.word &^ flagMask, Zero: zero, Fill: fill}
	if zero {
		pg.Header = rec[:len(rec)-1]
		m.sum.ZeroPages++
	} else {
		pg.Header, pg.Data = rec[:len(rec)-PageSize], rec[len(rec)-PageSize:]
		m.sum.Pages++
	}
	m.v.Page(pg)
	m.release()
	return w.nextRecord()
}

// nextBlock reads MEM_SIZE's next block until the listed lengths reach
// the total.
func (w *Writer) nextBlock() error {
	if w.memLeft == 0 {
		return w.nextRecord()
	}
	if len(w.blocks) >= maxBlocks {
		return malformedf("MEM_SIZE lists more than %d blocks", maxBlocks)
	}
	return w.m.expect(1, stMemLen)
}

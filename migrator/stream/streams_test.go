package stream

import "encoding/binary"

// pageData is a recognisable page: its block, offset and a seed.
func pageData(seed byte, off uint64) []byte {
	b := make([]byte, PageSize)
	for i := range b {
		b[i] = seed + byte(i) + byte(off>>12)
	}
	return b
}

// testBlocks are a small guest's RAM blocks.
var testBlocks = []Block{{"pc.ram", 64 << 10}, {"vga.vram", 16 << 10}, {"/rom@etc/acpi/tables", 8 << 10}}

// fullStream has every element the reader follows: header, configuration
// with subsections, return path and ping, POSTCOPY_ADVISE, RAM START with
// MEM_SIZE, PARTs of pages and zero pages (with and without CONTINUE,
// switching blocks), RAM_DISCARD, PACKAGED, more PARTs, END, EOF and a VM
// description. It returns the stream and the pages in it.
func fullStream() ([]byte, []string) {
	var e Builder
	var pages []string
	pg := func(block string, off uint64) {
		e.Page(block, off, pageData(byte(len(block)), off))
		pages = append(pages, pageKey(Page{Block: block, Offset: off, Data: pageData(byte(len(block)), off)}))
	}
	zr := func(block string, off uint64) {
		e.Zero(block, off)
		pages = append(pages, pageKey(Page{Block: block, Offset: off, Zero: true}))
	}
	e.Header()
	e.Config("pc-i440fx-7.2", true, "x-ignore-shared")
	e.Command(cmdOpenReturnPath, nil)
	e.Command(cmdPing, []byte{0, 0, 0, 1})
	e.Command(cmdPostcopyAdvise, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 4096), 4096))
	e.Start(secStart, 2, "ram")
	e.MemSize(true, testBlocks...)
	e.EOS()
	e.Footer(2)
	e.Part(secPart, 2)
	pg("pc.ram", 0)
	pg("pc.ram", 0x1000)
	zr("pc.ram", 0x2000)
	zr("vga.vram", 0)
	pg("vga.vram", 0x3000)
	e.EOS()
	e.Footer(2)
	e.Command(cmdRAMDiscard, []byte{0, 6, 'p', 'c', '.', 'r', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0})
	e.Command(cmdPing, []byte{0, 0, 0, 2})
	var nested Builder
	nested.Command(cmdPostcopyListen, nil)
	nested.Start(secFull, 3, "timer")
	nested.Write([]byte("device state of no known length"))
	nested.Command(cmdPostcopyRun, nil)
	e.Packaged(nested.Bytes())
	e.Part(secPart, 2) // the current block (vga.vram) carries across sections
	pg("vga.vram", 0x2000)
	zr("/rom@etc/acpi/tables", 0x1000)
	pg("pc.ram", 0xf000)
	e.EOS()
	e.Footer(2)
	e.Part(secEnd, 2)
	zr("pc.ram", 0x3000)
	e.EOS()
	e.Footer(2)
	e.U8(secEOF)
	e.VMDesc(`{"page_size": 4096, "devices": []}`)
	return e.Bytes(), pages
}

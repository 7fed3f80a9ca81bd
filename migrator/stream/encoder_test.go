package stream

import (
	"bytes"
	"encoding/binary"
)

// enc builds migration streams for tests, the way QEMU 7.2 writes them.
type enc struct {
	bytes.Buffer
	last string // the block the last page record named (CONTINUE)
}

func (e *enc) u8(v byte)    { e.WriteByte(v) }
func (e *enc) u16(v uint16) { e.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (e *enc) u32(v uint32) { e.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (e *enc) u64(v uint64) { e.Write(binary.BigEndian.AppendUint64(nil, v)) }
func (e *enc) str8(s string) {
	e.u8(byte(len(s)))
	e.WriteString(s)
}

func (e *enc) header() { e.WriteString("QEVM"); e.u32(3) }

// config writes the configuration with the capabilities subsection when
// caps are given and the uuid subsection when uuid is.
func (e *enc) config(machine string, uuid bool, caps ...string) {
	e.u8(secConfiguration)
	e.u32(uint32(len(machine)))
	e.WriteString(machine)
	if len(caps) > 0 {
		e.u8(secSubsection)
		e.str8("configuration/capabilities")
		e.u32(1)
		e.u32(uint32(len(caps)))
		for _, c := range caps {
			e.str8(c)
		}
	}
	if uuid {
		e.u8(secSubsection)
		e.str8("configuration/uuid")
		e.u32(1)
		e.Write(bytes.Repeat([]byte{0xab}, 16))
	}
}

func (e *enc) start(typ byte, id uint32, name string) {
	e.u8(typ)
	e.u32(id)
	e.str8(name)
	e.u32(0) // instance
	e.u32(4) // version
}
func (e *enc) part(typ byte, id uint32) { e.u8(typ); e.u32(id) }
func (e *enc) footer(id uint32)         { e.u8(secFooter); e.u32(id) }
func (e *enc) eos()                     { e.u64(flagEOS) }

// memSize writes MEM_SIZE; addrs adds x-ignore-shared's addresses.
func (e *enc) memSize(addrs bool, blocks ...Block) {
	var total uint64
	for _, b := range blocks {
		total += b.Length
	}
	e.u64(total | flagMemSize)
	for i, b := range blocks {
		e.str8(b.Name)
		e.u64(b.Length)
		if addrs {
			e.u64(uint64(i) << 32)
		}
	}
}

func (e *enc) recordHeader(flags uint64, block string, off uint64) {
	if block == e.last {
		e.u64(off | flags | flagContinue)
		return
	}
	e.u64(off | flags)
	e.str8(block)
	e.last = block
}

func (e *enc) page(block string, off uint64, data []byte) {
	e.recordHeader(flagPage, block, off)
	e.Write(data)
}

func (e *enc) zero(block string, off uint64) {
	e.recordHeader(flagZero, block, off)
	e.u8(0)
}

func (e *enc) command(cmd uint16, data []byte) {
	e.u8(secCommand)
	e.u16(cmd)
	e.u16(uint16(len(data)))
	e.Write(data)
}

func (e *enc) packaged(nested []byte) {
	e.command(cmdPackaged, binary.BigEndian.AppendUint32(nil, uint32(len(nested))))
	e.Write(nested)
}

func (e *enc) vmdesc(json string) {
	e.u8(secVMDescription)
	e.u32(uint32(len(json)))
	e.WriteString(json)
}

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
	var e enc
	var pages []string
	pg := func(block string, off uint64) {
		e.page(block, off, pageData(byte(len(block)), off))
		pages = append(pages, pageKey(Page{Block: block, Offset: off, Data: pageData(byte(len(block)), off)}))
	}
	zr := func(block string, off uint64) {
		e.zero(block, off)
		pages = append(pages, pageKey(Page{Block: block, Offset: off, Zero: true}))
	}
	e.header()
	e.config("pc-i440fx-7.2", true, "x-ignore-shared")
	e.command(cmdOpenReturnPath, nil)
	e.command(cmdPing, []byte{0, 0, 0, 1})
	e.command(cmdPostcopyAdvise, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 4096), 4096))
	e.start(secStart, 2, "ram")
	e.memSize(true, testBlocks...)
	e.eos()
	e.footer(2)
	e.part(secPart, 2)
	pg("pc.ram", 0)
	pg("pc.ram", 0x1000)
	zr("pc.ram", 0x2000)
	zr("vga.vram", 0)
	pg("vga.vram", 0x3000)
	e.eos()
	e.footer(2)
	e.command(cmdRAMDiscard, []byte{0, 6, 'p', 'c', '.', 'r', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0})
	e.command(cmdPing, []byte{0, 0, 0, 2})
	var nested enc
	nested.command(cmdPostcopyListen, nil)
	nested.start(secFull, 3, "timer")
	nested.Write([]byte("device state of no known length"))
	nested.command(cmdPostcopyRun, nil)
	e.packaged(nested.Bytes())
	e.part(secPart, 2) // the current block (vga.vram) carries across sections
	pg("vga.vram", 0x2000)
	zr("/rom@etc/acpi/tables", 0x1000)
	pg("pc.ram", 0xf000)
	e.eos()
	e.footer(2)
	e.part(secEnd, 2)
	zr("pc.ram", 0x3000)
	e.eos()
	e.footer(2)
	e.u8(secEOF)
	e.vmdesc(`{"page_size": 4096, "devices": []}`)
	return e.Bytes(), pages
}

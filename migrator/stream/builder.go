package stream

import (
	"bytes"
	"encoding/binary"
)

// Builder writes migration streams the way QEMU 7.2 does, for the tests
// of the readers and of their users.
type Builder struct {
	bytes.Buffer
	last string // the block the last page record named (CONTINUE)
}

// U8 … Str8 write raw fields (big-endian; Str8 with a u8 length).
func (e *Builder) U8(v byte)    { e.WriteByte(v) }
func (e *Builder) U16(v uint16) { e.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (e *Builder) U32(v uint32) { e.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (e *Builder) U64(v uint64) { e.Write(binary.BigEndian.AppendUint64(nil, v)) }
func (e *Builder) Str8(s string) {
	e.U8(byte(len(s)))
	e.WriteString(s)
}

// Header writes the magic and version.
func (e *Builder) Header() { e.WriteString("QEVM"); e.U32(3) }

// Config writes the configuration with the capabilities subsection when
// caps are given and the uuid subsection when uuid is.
func (e *Builder) Config(machine string, uuid bool, caps ...string) {
	e.U8(secConfiguration)
	e.U32(uint32(len(machine)))
	e.WriteString(machine)
	if len(caps) > 0 {
		e.U8(secSubsection)
		e.Str8("configuration/capabilities")
		e.U32(1)
		e.U32(uint32(len(caps)))
		for _, c := range caps {
			e.Str8(c)
		}
	}
	if uuid {
		e.U8(secSubsection)
		e.Str8("configuration/uuid")
		e.U32(1)
		e.Write(bytes.Repeat([]byte{0xab}, 16))
	}
}

// Start writes a START or FULL section header.
func (e *Builder) Start(typ byte, id uint32, name string) {
	e.U8(typ)
	e.U32(id)
	e.Str8(name)
	e.U32(0) // instance
	e.U32(4) // version
}

// Part writes a PART or END section header.
func (e *Builder) Part(typ byte, id uint32) { e.U8(typ); e.U32(id) }

// Footer ends section id.
func (e *Builder) Footer(id uint32) { e.U8(secFooter); e.U32(id) }
func (e *Builder) EOS()             { e.U64(flagEOS) }

// MemSize writes MEM_SIZE; addrs adds x-ignore-shared's addresses.
func (e *Builder) MemSize(addrs bool, blocks ...Block) {
	var total uint64
	for _, b := range blocks {
		total += b.Length
	}
	e.U64(total | flagMemSize)
	for i, b := range blocks {
		e.Str8(b.Name)
		e.U64(b.Length)
		if addrs {
			e.U64(uint64(i) << 32)
		}
	}
}

// RecordHeader writes a RAM record's word and, when the block changes, its name.
func (e *Builder) RecordHeader(flags uint64, block string, off uint64) {
	if block == e.last {
		e.U64(off | flags | flagContinue)
		return
	}
	e.U64(off | flags)
	e.Str8(block)
	e.last = block
}

// Page writes a PAGE record.
func (e *Builder) Page(block string, off uint64, data []byte) {
	e.RecordHeader(flagPage, block, off)
	e.Write(data)
}

// Zero writes a ZERO record.
func (e *Builder) Zero(block string, off uint64) {
	e.RecordHeader(flagZero, block, off)
	e.U8(0)
}

// Command writes a COMMAND.
func (e *Builder) Command(cmd uint16, data []byte) {
	e.U8(secCommand)
	e.U16(cmd)
	e.U16(uint16(len(data)))
	e.Write(data)
}

// Packaged writes a PACKAGED command and its nested stream.
func (e *Builder) Packaged(nested []byte) {
	e.Command(cmdPackaged, binary.BigEndian.AppendUint32(nil, uint32(len(nested))))
	e.Write(nested)
}

// VMDesc writes the VM description after EOF.
func (e *Builder) VMDesc(json string) {
	e.U8(secVMDescription)
	e.U32(uint32(len(json)))
	e.WriteString(json)
}

// Element kinds for Start and Part.
const (
	SectionStart = secStart
	SectionPart  = secPart
	SectionEnd   = secEnd
	SectionFull  = secFull
)

// EOF ends the main channel.
func (e *Builder) EOF() { e.U8(secEOF) }

package stream

import "errors"

// ErrMalformed is wrapped by every error about bytes that are not a QEMU
// 7.2 migration stream the reader can follow.
var ErrMalformed = errors.New("malformed migration stream")

// Top-level element types of the main channel (savevm.c).
const (
	secEOF           = 0x00
	secStart         = 0x01
	secPart          = 0x02
	secEnd           = 0x03
	secFull          = 0x04
	secSubsection    = 0x05
	secVMDescription = 0x06
	secConfiguration = 0x07
	secCommand       = 0x08
	secFooter        = 0x7e
)

// RAM record flags (ram.c): the low 12 bits of a record's be64 word.
const (
	flagMemSize  = 0x004
	flagZero     = 0x002
	flagPage     = 0x008
	flagEOS      = 0x010
	flagContinue = 0x020
	flagXBZRLE   = 0x040
	flagHook     = 0x080
	flagCompress = 0x100
	flagMask     = 0xfff
)

// Commands (savevm.c, enum qemu_vm_cmd).
const (
	cmdOpenReturnPath = 1
	cmdPing           = 2
	cmdPostcopyAdvise = 3
	cmdPostcopyListen = 4
	cmdPostcopyRun    = 5
	cmdRAMDiscard     = 6
	cmdPackaged       = 7
	cmdRecvBitmap     = 8
	cmdEnableColo     = 9
	cmdPostcopyResume = 10
)

const (
	// PageSize is the target page size of x86 guests: the payload of a
	// PAGE record and of each multifd page.
	PageSize = 4096

	magicQEVM    = 0x5145564d // "QEVM"
	versionQEVM  = 3
	ramSection   = "ram"
	ramVersion   = 4
	hostPageSize = 4096

	// Bounds: QEMU's own where it has one, otherwise far beyond anything
	// real, so a corrupt length is caught before it is trusted.
	maxMachineName = 256      // configuration: "pc-i440fx-7.2" and the like
	maxCaps        = 64       // configuration/capabilities entries
	maxBlocks      = 1024     // RAM blocks listed in MEM_SIZE
	maxRAMBytes    = 1 << 46  // MEM_SIZE total: 64 TiB
	maxPackaged    = 1 << 24  // MAX_VM_CMD_PACKAGED_SIZE
	maxVMDesc      = 64 << 20 // the JSON VM description
	maxRecord      = 8 + 1 + 255 + PageSize
)

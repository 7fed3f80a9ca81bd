package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// ramPrefix is a stream up to RAM's first PART header (section 5).
func ramPrefix(caps ...string) *Builder {
	var e Builder
	e.Header()
	e.Config("pc-i440fx-7.2", false, caps...)
	e.Start(secStart, 5, "ram")
	e.MemSize(len(caps) > 0, testBlocks...)
	e.EOS()
	e.Footer(5)
	e.Part(secPart, 5)
	e.Page("pc.ram", 0, pageData(0, 0))
	return &e
}

// Streams page coding cannot follow turn opaque with a reason, forward
// every byte, and are not errors.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		build        func(e *Builder)
	}{
		{"xbzrle", "xbzrle", func(e *Builder) {
			e.U64(0x1000 | flagXBZRLE | flagContinue)
			e.Write([]byte{1, 0, 3, 9, 9, 9})
		}},
		{"compress", "compressed page", func(e *Builder) {
			e.U64(0x1000 | flagCompress | flagContinue)
			e.Write([]byte{0, 0, 0, 2, 9, 9})
		}},
		{"unknown flag", "unknown RAM record flags 0x220", func(e *Builder) { e.U64(0x1000 | 0x200 | flagContinue) }},
		{"two kinds", "unknown RAM record flags 0xa", func(e *Builder) { e.U64(0x1000 | flagZero | flagPage) }},
		{"block migration", "block migration", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Start(secStart, 6, "block")
		}},
		{"dirty bitmaps", "dirty bitmaps", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Start(secStart, 6, "dirty-bitmap")
		}},
		{"vfio", "VFIO", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Start(secStart, 6, "0000:00:05.0/vfio")
		}},
		{"device before RAM ended", `section "timer" before RAM ended`, func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Start(secFull, 6, "timer")
		}},
		{"colo", "COLO", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Command(cmdEnableColo, nil)
		}},
		{"huge pages", "post-copy with RAM page sizes 0x201000", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Command(cmdPostcopyAdvise, append(bytes.Repeat([]byte{0}, 5), 0x20, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ramPrefix()
			tc.build(e)
			e.Write(bytes.Repeat([]byte{0xee}, 5000)) // whatever follows
			in := e.Bytes()
			r, sum, out := feed(t, in, len(in)/2)
			if !bytes.Equal(out, in) {
				t.Fatal("output differs from input")
			}
			if sum.Err != nil || !strings.Contains(sum.Refused, tc.reason) || sum.Opaque != sum.Refused {
				t.Errorf("err %v, refused %q, opaque %q; want %q", sum.Err, sum.Refused, sum.Opaque, tc.reason)
			}
			if len(r.pages) != 1 || sum.Pages != 1 {
				t.Errorf("pages %q", r.pages)
			}
		})
	}
}

// An unknown configuration subsection comes before any RAM: refused.
func TestRefusedConfigSubsection(t *testing.T) {
	var e Builder
	e.Header()
	e.Config("pc-i440fx-7.2", false)
	e.U8(secSubsection)
	e.Str8("configuration/something-new")
	e.U32(1)
	e.Write(make([]byte, 100))
	_, sum, out := feed(t, e.Bytes())
	if !bytes.Equal(out, e.Bytes()) || !strings.Contains(sum.Refused, "something-new") {
		t.Errorf("refused %q", sum.Refused)
	}
}

// Malformed streams: lenient, the rest passes through and Summary.Err
// says why; Strict, Write or Close returns the error and dst holds exactly
// the input before it.
func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		build     func(e *Builder)
	}{
		{"truncated page", "truncated in PAGE record", func(e *Builder) { e.Page("pc.ram", 0x1000, make([]byte, 100)) }},
		{"truncated header", "truncated in RAM record", func(e *Builder) { e.Write([]byte{0, 0}) }},
		{"bad footer id", "footer names section 6", func(e *Builder) { e.EOS(); e.Footer(6) }},
		{"no footer", "not the footer", func(e *Builder) { e.EOS(); e.U8(secEOF); e.U32(0) }},
		{"giant packaged", "PACKAGED of", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Command(cmdPackaged, []byte{0x40, 0, 0, 0})
		}},
		{"packaged arguments", "PACKAGED with 5 bytes", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.Command(cmdPackaged, []byte{0, 0, 0, 0, 0})
		}},
		{"giant vmdesc", "VM description of", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.U8(secEOF)
			e.U8(secVMDescription)
			e.U32(1 << 31)
		}},
		{"after eof", "after EOF", func(e *Builder) { e.EOS(); e.Footer(5); e.U8(secEOF); e.U8(3) }},
		{"unknown block", `block "nope"`, func(e *Builder) { e.Page("nope", 0, make([]byte, PageSize)) }},
		{"beyond block", "beyond block", func(e *Builder) { e.Page("pc.ram", 64<<10, make([]byte, PageSize)) }},
		{"unknown section", "section 9 continues", func(e *Builder) { e.EOS(); e.Footer(5); e.Part(secPart, 9) }},
		{"unknown command", "command 42", func(e *Builder) { e.EOS(); e.Footer(5); e.Command(42, nil) }},
		{"unknown type", "top-level type 0x42", func(e *Builder) { e.EOS(); e.Footer(5); e.U8(0x42) }},
		{"second mem size", "outside the RAM section's START", func(e *Builder) { e.MemSize(false, testBlocks...) }},
		{"trailing", "after the end", func(e *Builder) {
			e.EOS()
			e.Footer(5)
			e.U8(secEOF)
			e.VMDesc("{}")
			e.U8(0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ramPrefix()
			tc.build(e)
			in := e.Bytes()
			_, sum, out := feed(t, in, len(in)-3)
			if !bytes.Equal(out, in) {
				t.Fatal("lenient: output differs from input")
			}
			if !errors.Is(sum.Err, ErrMalformed) || !strings.Contains(sum.Err.Error(), tc.msg) {
				t.Fatalf("err %v, want %q", sum.Err, tc.msg)
			}
			if sum.Refused == "" {
				t.Error("malformed before RAM ended, not refused")
			}
			// Strict: the error comes from Write or Close.
			var dst bytes.Buffer
			w := NewWriter(&dst, nil, nil, Strict())
			n, err := w.Write(in)
			if err == nil {
				err = w.Close()
			}
			if !errors.Is(err, ErrMalformed) || !bytes.Equal(dst.Bytes(), in[:n]) {
				t.Errorf("strict: n %d, err %v, dst %d bytes", n, err, dst.Len())
			}
			if _, err := w.Write([]byte{0}); !errors.Is(err, ErrMalformed) {
				t.Errorf("strict: write after the error: %v", err)
			}
		})
	}
}

// Headers and configurations that are not QEMU 7.2's, and giant lengths
// in them.
func TestMalformedStart(t *testing.T) {
	for _, tc := range []struct{ name, in, msg string }{
		{"magic", "QEVN\x00\x00\x00\x03", "no QEVM magic"},
		{"version", "QEVM\x00\x00\x00\x02", "version 2"},
		{"machine name", "QEVM\x00\x00\x00\x03\x07\x00\x10\x00\x00", "machine name of 1048576"},
		{"caps", "QEVM\x00\x00\x00\x03\x07\x00\x00\x00\x00\x05\x1aconfiguration/capabilities\x00\x00\x00\x01\xff\xff\xff\xff", "4294967295 capabilities"},
		{"mem size", "QEVM\x00\x00\x00\x03\x01\x00\x00\x00\x00\x03ram\x00\x00\x00\x00\x00\x00\x00\x04\x7f\x00\x00\x00\x00\x00\x00\x04", "MEM_SIZE of"},
		{"block larger than total", "QEVM\x00\x00\x00\x03\x01\x00\x00\x00\x00\x03ram\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x10\x04\x01a\x00\x00\x00\x00\x00\x00\x20\x00", "only 4096 left"},
		{"empty", "", "truncated in header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sum, out := feed(t, []byte(tc.in))
			if string(out) != tc.in || !errors.Is(sum.Err, ErrMalformed) || !strings.Contains(sum.Err.Error(), tc.msg) {
				t.Errorf("err %v, want %q", sum.Err, tc.msg)
			}
		})
	}
}

// A RAM_DISCARD the destination would refuse turns the reader opaque.
func TestMalformedDiscard(t *testing.T) {
	for name, data := range map[string][]byte{
		"version": {1, 1, 'a', 0},
		"name":    {0, 9, 'a', 0},
		"nul":     {0, 1, 'a', 'b'},
		"ranges":  {0, 1, 'a', 0, 1, 2, 3},
		"empty":   nil,
	} {
		var e Builder
		e.Header()
		e.Command(cmdRAMDiscard, data)
		w := NewWriter(io.Discard, nil, nil)
		w.Write(e.Bytes())
		if s := w.Summary(); s.Err == nil {
			t.Errorf("%s: no error, summary %+v", name, s)
		}
	}
}

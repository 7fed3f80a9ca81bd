// Package qmpcmd names the QMP commands and events nfhandoff uses and types
// their arguments and replies (QEMU 7.2, ../shared/QEMU-NOTES.md): the one
// place a command's spelling and its JSON live. The transport is qmpx;
// the session, the policy and vm run these commands through it, and the
// test fakes of QEMU match on the same names.
//
// Argument structs encode exactly as the maps they replaced did: fields in
// the alphabetical order of their JSON names, unset ones omitted
// (qmpcmd_test.go holds the golden encodings).
package qmpcmd

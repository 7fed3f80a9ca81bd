package vnf

import "fmt"

// Fill selects what page payloads contain.
type Fill int

// Payload kinds.
const (
	FillRandom  Fill = iota // pseudo-random, incompressible
	FillZero                // all zero
	FillPattern             // one 8-byte word per page repeated: compressible but not zero
)

// ParseFill parses "random", "zero" or "pattern".
func ParseFill(s string) (Fill, error) {
	switch s {
	case "random", "":
		return FillRandom, nil
	case "zero":
		return FillZero, nil
	case "pattern":
		return FillPattern, nil
	}
	return 0, fmt.Errorf("unknown fill %q (want random, zero or pattern)", s)
}

func (f Fill) String() string {
	return [...]string{"random", "zero", "pattern"}[f]
}

package record

import (
	"fmt"
	"strconv"
	"strings"
)

// WindowKind is the kind of a window: the assigner a pipeline uses and
// what an Aggregate carries. Its zero value, Tumbling, is the default.
type WindowKind uint8

// Window kinds.
const (
	// Tumbling windows are [start, start+size), aligned to the epoch plus
	// an offset: hopping windows whose advance equals their size.
	Tumbling WindowKind = iota
	// Hopping windows of a size start every advance (WINDOWS.md rule 3).
	Hopping
	// Session windows open [t, t+gap) per event and merge when they
	// overlap or touch (WINDOWS.md rule 4).
	Session
)

var windowKindNames = [...]string{"tumbling", "hopping", "session"}

func (k WindowKind) String() string { return EnumName(k, windowKindNames[:], "WindowKind") }

// Valid reports whether k is a known kind.
func (k WindowKind) Valid() bool { return int(k) < len(windowKindNames) }

// EnumValues lists the names UnmarshalText accepts.
func (WindowKind) EnumValues() []string { return windowKindNames[:] }

// MarshalText returns the kind's name.
func (k WindowKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind's name.
func (k *WindowKind) UnmarshalText(b []byte) error {
	return UnmarshalEnum(k, "window type", b, windowKindNames[:])
}

// ParseEnum returns the index of s in names, or an error naming what was
// parsed and listing the names. Every enumerated option of every stage
// (window kind, emit mode, formats, policies) parses through it, so their
// messages read alike.
func ParseEnum(what, s string, names []string) (int, error) {
	for i, n := range names {
		if s == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", what, s, orList(names))
}

func orList(names []string) string {
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// EnumName returns names[v], or typ(v) for a value outside names: the
// String method of every enumerated option type.
func EnumName[T ~uint8](v T, names []string, typ string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// UnmarshalEnum parses b as one of names into *dst (see ParseEnum): the
// UnmarshalText method of every enumerated option type.
func UnmarshalEnum[T ~uint8](dst *T, what string, b []byte, names []string) error {
	i, err := ParseEnum(what, string(b), names)
	*dst = T(i)
	return err
}

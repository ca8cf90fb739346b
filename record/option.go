package record

import "strings"

// OptionError is one invalid option of a stage's typed options. Option
// names it in the stage's own terms, written like a YAML path relative to
// the stage's options ("advance", "fields[1].path"), so that config can
// map it back to the file, line and column it came from.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string {
	if e.Option == "" {
		return e.Msg
	}
	return e.Option + ": " + e.Msg
}

// OptionErrors is every problem a stage's Validate found, in the order
// found. A nil or empty list is no error: Validate methods return
// list.Err().
type OptionErrors []*OptionError

// Add appends a problem with option opt.
func (l *OptionErrors) Add(opt, msg string) {
	*l = append(*l, &OptionError{Option: opt, Msg: msg})
}

// Err returns l as an error, or nil when l is empty.
func (l OptionErrors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l OptionErrors) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find each OptionError.
func (l OptionErrors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

package compact

import (
	"fmt"
	"io"

	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

// AppendJSONLines appends one line per aggregate of b: the flat JSON value
// the json format sends for it (same keys, same order, same id), each
// followed by '\n'.
func (b *Block) AppendJSONLines(dst []byte) []byte {
	var id []byte
	for i := range b.Aggs {
		who := b.Identity(i)
		id = aggenc.AppendID(id[:0], &who, b.Aggs[i].Start)
		dst = aggenc.AppendJSON(dst, &b.Aggs[i], id, &who, b.Columns)
		dst = append(dst, '\n')
	}
	return dst
}

// WriteJSONLines decodes one compact record value and writes its
// aggregates to w as JSON lines (see Block.AppendJSONLines). Nothing is
// written when value does not decode.
func WriteJSONLines(w io.Writer, value []byte) error {
	var b Block
	if err := Decode(value, &b); err != nil {
		return err
	}
	if _, err := w.Write(b.AppendJSONLines(nil)); err != nil {
		return fmt.Errorf("compact: write json lines: %w", err)
	}
	return nil
}

package ingest

import "testing"

// FuzzFrameReader: the frame reader never panics and never returns a
// message over its bound.
func FuzzFrameReader(f *testing.F) {
	key := [4]byte{9, 8, 7, 6}
	f.Add(appendClientFrame(nil, opText, []byte(`{"id":"s-123","ts":1763683200123,"pm25":12.4}`), key))
	f.Add(appendClientFrame(appendClientFrame(nil, opPing, []byte("x"), key), opText, make([]byte, 300), key))
	f.Add([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, raw []byte) {
		fr := frameReader{br: bufioReader(raw), maxFrame: 512, onPing: func([]byte) {}}
		for range 100 {
			_, msg, err := fr.next()
			if err != nil {
				return
			}
			if len(msg) > 512 {
				t.Fatalf("message of %d bytes", len(msg))
			}
		}
	})
}

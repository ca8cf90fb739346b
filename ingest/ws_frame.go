package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/gorilla/websocket"
)

// The server side of RFC 6455 framing, for the read path only: gorilla
// does the opening handshake and writes control frames (pong, close);
// frames are read here, into a per-connection buffer, because gorilla's
// NextReader allocates a reader per message and the frame path must not
// allocate. No extension is negotiated (no compression), so RSV bits must
// be zero.

// WebSocket opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// wsClose is a reason to close a connection: a close code and text sent
// to the client.
type wsClose struct {
	code int
	text string
}

func (e *wsClose) Error() string { return fmt.Sprintf("websocket close %d: %s", e.code, e.text) }

var (
	errWSClientClosed = errors.New("client closed the connection")
	wsProtocolError   = func(text string) *wsClose { return &wsClose{websocket.CloseProtocolError, text} }
)

// frameReader reads the messages of one connection. It is owned by the
// connection's goroutine.
type frameReader struct {
	br       *bufio.Reader
	buf      []byte // the message being read; reused across messages
	hdr      [8]byte
	key      [4]byte   // in the struct: a local would escape through io.ReadFull
	ctl      [125]byte // control frame payload
	maxFrame int
	// control is called with each ping (answered by a pong) and close
	// payload; it returns an error to stop reading.
	onPing func(payload []byte)
}

// next reads frames until a complete data message and returns it, its
// opcode, or an error: a *wsClose for the client's protocol violations
// and oversized messages, errWSClientClosed when the client sent a close
// frame, else the read error. The returned slice aliases fr.buf and is
// valid until the next call.
//
// A message larger than maxFrame is refused from its frame header,
// before its payload is read, so it takes no memory.
func (fr *frameReader) next() (byte, []byte, error) {
	fr.buf = fr.buf[:0]
	var op byte
	inMsg := false
	for {
		if _, err := io.ReadFull(fr.br, fr.hdr[:2]); err != nil {
			return 0, nil, err
		}
		b0, b1 := fr.hdr[0], fr.hdr[1]
		fin, rsv, opcode := b0&0x80 != 0, b0&0x70, b0&0x0F
		if rsv != 0 {
			return 0, nil, wsProtocolError("reserved bits set")
		}
		if b1&0x80 == 0 {
			return 0, nil, wsProtocolError("client frame not masked")
		}
		n := uint64(b1 & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(fr.br, fr.hdr[:2]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(fr.hdr[:2]))
		case 127:
			if _, err := io.ReadFull(fr.br, fr.hdr[:8]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(fr.hdr[:8])
			if n>>63 != 0 {
				return 0, nil, wsProtocolError("invalid frame length")
			}
		}
		if _, err := io.ReadFull(fr.br, fr.key[:]); err != nil {
			return 0, nil, err
		}
		key := fr.key
		if opcode >= opClose {
			if !fin || n > 125 {
				return 0, nil, wsProtocolError("fragmented or oversized control frame")
			}
			p := fr.ctl[:n]
			if _, err := io.ReadFull(fr.br, p); err != nil {
				return 0, nil, err
			}
			unmask(p, key, 0)
			switch opcode {
			case opPing:
				if fr.onPing != nil {
					fr.onPing(p)
				}
			case opPong:
			case opClose:
				return 0, nil, errWSClientClosed
			default:
				return 0, nil, wsProtocolError("unknown control opcode")
			}
			continue
		}
		switch {
		case opcode == opCont && !inMsg:
			return 0, nil, wsProtocolError("continuation frame without a message")
		case opcode == opText || opcode == opBinary:
			if inMsg {
				return 0, nil, wsProtocolError("new message inside a fragmented one")
			}
			op, inMsg = opcode, true
		case opcode != opCont:
			return 0, nil, wsProtocolError("unknown opcode")
		}
		have := len(fr.buf)
		if n > uint64(fr.maxFrame-have) {
			return 0, nil, &wsClose{websocket.CloseMessageTooBig, fmt.Sprintf("message exceeds %d bytes", fr.maxFrame)}
		}
		need := have + int(n)
		if cap(fr.buf) < need {
			nb := make([]byte, have, roundUp(need))
			copy(nb, fr.buf)
			fr.buf = nb
		}
		fr.buf = fr.buf[:need]
		if _, err := io.ReadFull(fr.br, fr.buf[have:]); err != nil {
			return 0, nil, err
		}
		unmask(fr.buf[have:], key, 0)
		if fin {
			return op, fr.buf, nil
		}
	}
}

// roundUp rounds n up to a power of two, at least 512.
func roundUp(n int) int {
	if n <= 512 {
		return 512
	}
	return 1 << bits.Len(uint(n-1))
}

// unmask XORs p with the masking key, starting at key offset pos.
func unmask(p []byte, key [4]byte, pos int) {
	i := 0
	if len(p) >= 8 {
		var k [8]byte
		for j := range k {
			k[j] = key[(pos+j)&3]
		}
		kw := binary.LittleEndian.Uint64(k[:])
		for ; i+8 <= len(p); i += 8 {
			binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^kw)
		}
	}
	for ; i < len(p); i++ {
		p[i] ^= key[(pos+i)&3]
	}
}

// appendClientFrame appends a masked client frame (FIN set) to dst: for
// tests and the benchmark client.
func appendClientFrame(dst []byte, opcode byte, payload []byte, key [4]byte) []byte {
	dst = append(dst, 0x80|opcode)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	unmask(dst[start:], key, 0)
	return dst
}

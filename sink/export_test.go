package sink

// FrameForTest finishes the writer's current frame without publishing it
// and returns it (valid until the next call); compact blocks are encoded.
func (w *Writer) FrameForTest() []byte {
	if w.enc != nil && w.enc.Len() > 0 {
		w.value = w.enc.AppendBlock(w.value[:0])
		w.id = appendBlockID(w.id[:0], w.value)
		w.fb.reset(w.opts.Topic, w.headers)
		w.fb.appendRecord(stringBytes(w.opts.Gateway), w.value, w.id, 0, w.firstNow, false)
	}
	w.out = w.fb.appendTo(w.out[:0])
	return w.out
}

// ResetForTest drops the writer's current frame.
func (w *Writer) ResetForTest() {
	if w.enc != nil {
		w.enc.Reset()
	}
	w.fb.reset(w.opts.Topic, w.headers)
}

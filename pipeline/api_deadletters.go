package pipeline

import (
	"encoding/json"
	"errors"
	"net/http"
)

// apiDeadLetters streams the dead-letter stream as NDJSON, one DeadLetter
// per line (payload in base64), oldest first: GET /v1/deadletters
// [?source=S][&follow=1]. With follow it keeps the response open and
// writes each new dead letter as it is stored, until the client goes away.
// It reads through the gateway's own in-process connection: listener
// clients (sensors) cannot reach JetStream, and the store belongs to the
// running gateway, so this is how `edgeplane deadletters` reads a running
// gateway.
func (g *Gateway) apiDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !g.up.Load() {
		writeErr(w, http.StatusServiceUnavailable, errors.New("the gateway is starting"))
		return
	}
	q := DeadLetterQuery{Source: r.URL.Query().Get("source"), Follow: r.URL.Query().Get("follow") == "1"}
	if q.Source != "" && g.source(q.Source) == nil {
		writeErr(w, http.StatusNotFound, errors.New("no source "+q.Source))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	wrote := false
	err := ReadDeadLetters(r.Context(), g.nc, q, func(dl *DeadLetter) error {
		wrote = true
		if err := enc.Encode(dl); err != nil {
			return err
		}
		if q.Follow && fl != nil {
			fl.Flush()
		}
		return nil
	})
	if errors.Is(err, ErrNoDeadLetterStream) && !wrote {
		writeErr(w, http.StatusNotFound, errors.New("no dead letters: no source of this gateway has dead_letter: true"))
		return
	}
	if err != nil && !wrote {
		writeErr(w, http.StatusInternalServerError, err)
	}
}

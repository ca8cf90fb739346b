package operators

import (
	"fmt"
	"slices"
	"testing"

	"github.com/edgeplane/edgeplane/record"
)

// windowsContaining lists the starts of every hopping window [ws, ws+size)
// containing t, by WINDOWS.md rule 3 written out directly (floored modulo,
// no clamp at the epoch), in increasing order.
func windowsContaining(t, size, adv, off int64) []int64 {
	m := (t - off) % adv
	if m < 0 {
		m += adv
	}
	var ws []int64
	for s := t - m; s > t-size; s -= adv {
		ws = append(ws, s)
	}
	slices.Reverse(ws)
	return ws
}

// One reading before 1970 in a hopping window (size 5 s, advance 3 s)
// belongs to both windows containing it, each with count 1, whether they
// fire on the watermark or at Flush, in both emission modes.
func TestHoppingBeforeEpochEveryWindow(t *testing.T) {
	const tm = -1_000_000_004_000
	want := windowsContaining(tm, 5000, 3000, 0)
	if !slices.Equal(want, []int64{-1_000_000_008_000, -1_000_000_005_000}) {
		t.Fatalf("windowsContaining: %v", want)
	}
	for _, mode := range []EmitMode{Update, Final} {
		for _, flush := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/flush=%v", mode, flush), func(t *testing.T) {
				c := Config{Kind: record.Hopping, Size: 5000, Advance: 3000, OutOfOrder: 0, Mode: mode, MaxSeries: 2}
				rec := &recorder{}
				sh, err := NewShard(&c, NewWatermarks(&c), rec)
				if err != nil {
					t.Fatal(err)
				}
				sh.Process([]record.Sample{{Series: 1, Time: tm, Value: 7}}, 0)
				if flush {
					sh.Flush()
				} else {
					// Far enough to fire and purge both windows, and itself
					// in none of them.
					sh.Process([]record.Sample{{Series: 1, Time: tm + 20_000, Value: 1}}, 0)
				}
				var got []int64
				for _, a := range rec.aggs {
					if a.Start > tm {
						continue // the second reading's windows (Flush)
					}
					if a.Count != 1 || a.Sum != 7 || a.End != a.Start+5000 {
						t.Errorf("window [%d,%d): count %d sum %v", a.Start, a.End, a.Count, a.Sum)
					}
					got = append(got, a.Start)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("windows %v, want %v", got, want)
				}
				if st := sh.Stats(); st.Late != 0 {
					t.Fatalf("late %d", st.Late)
				}
			})
		}
	}
}

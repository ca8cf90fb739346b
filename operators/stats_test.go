package operators

import (
	"reflect"
	"testing"
)

// TestShardStatsMergeCoversEveryField: a field added to ShardStats and
// left out of Merge would read 0 in the pipeline's sums (the time, field
// and source refusals once did).
func TestShardStatsMergeCoversEveryField(t *testing.T) {
	var o ShardStats
	ov := reflect.ValueOf(&o).Elem()
	for i := range ov.NumField() {
		switch f := ov.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Int64:
			f.SetInt(int64(i + 1))
		default:
			t.Fatalf("ShardStats.%s: kind %s, extend this test", ov.Type().Field(i).Name, f.Kind())
		}
	}
	var sum ShardStats
	sum.Merge(&o)
	sum.Merge(&o)
	sv := reflect.ValueOf(sum)
	for i := range sv.NumField() {
		name, got, one := sv.Type().Field(i).Name, sv.Field(i), ov.Field(i)
		var g, w int64
		if got.Kind() == reflect.Uint64 {
			g, w = int64(got.Uint()), int64(one.Uint())
		} else {
			g, w = got.Int(), one.Int()
		}
		switch name {
		case "Watermark", "MaxLagMs": // the lower, the larger
			if g != w {
				t.Errorf("%s = %d after merging %d twice, want %d", name, g, w, w)
			}
		default:
			if g != 2*w {
				t.Errorf("%s = %d after merging %d twice, want %d", name, g, w, 2*w)
			}
		}
	}
}

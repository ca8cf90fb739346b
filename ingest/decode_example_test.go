package ingest_test

import (
	"fmt"

	"github.com/edgeplane/edgeplane/ingest"
)

func ExampleDecoder() {
	c := &ingest.DecodeConfig{
		TopicPattern: "city/{district}/{type}/{id}",
		Key:          "{district}/{id}",
		TimePath:     "ts",
		TimeUnit:     "ms",
		Fields:       []ingest.FieldSpec{{Name: "pm25"}, {Name: "pm10"}},
	}
	d, err := ingest.NewDecoder(c)
	if err != nil {
		panic(err)
	}
	names := c.FieldNames()
	var b ingest.Batch
	r, err := d.Decode("city/d7/air/s-123", []byte(`{"ts":1763683200123,"pm25":12.4,"pm10":20.1}`), 1763683200500, &b)
	fmt.Println(r, err)
	for i, rd := range b.Readings {
		fmt.Printf("%s %s %d %g\n", b.Key(i), names[rd.Field], rd.Time, rd.Value)
	}
	r, err = d.Decode("city/d7/air", []byte(`{}`), 1763683200500, &b)
	fmt.Println(r, err)
	// Output:
	// none <nil>
	// d7/s-123 pm25 1763683200123 12.4
	// d7/s-123 pm10 1763683200123 20.1
	// topic_mismatch topic "city/d7/air" does not match topic_pattern "city/{district}/{type}/{id}"
}

func ExampleDecodeConfig_Validate() {
	c := &ingest.DecodeConfig{Format: "senml", TimePath: "t", Fields: []ingest.FieldSpec{{Name: "a"}, {Name: "a"}}}
	for _, p := range c.Validate() {
		fmt.Println(p)
	}
	// Output:
	// time_path: not used by format senml (time is bt+t)
	// fields[1].name: duplicate field name "a" (also fields[0])
}

func ExampleMatchFilter() {
	fmt.Println(ingest.MatchFilter("city/+/air/#", "city/d7/air/s-123"))
	fmt.Println(ingest.MatchFilter("city/+/air/#", "city/d7/noise/s-9"))
	// Output:
	// true
	// false
}

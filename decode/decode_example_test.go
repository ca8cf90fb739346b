package decode_test

import (
	"errors"
	"fmt"

	"github.com/edgeplane/edgeplane/decode"
	"github.com/edgeplane/edgeplane/record"
)

func ExampleDecoder() {
	c := &decode.Options{
		TopicPattern: "city/{district}/{type}/{id}",
		Key:          "{district}/{id}",
		TimePath:     "ts",
		TimeUnit:     decode.TimeMS,
		Fields:       []decode.Field{{Name: "pm25"}, {Name: "pm10"}},
	}
	d, err := decode.NewDecoder(c)
	if err != nil {
		panic(err)
	}
	names := c.FieldNames()
	var b decode.Batch
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

func ExampleOptions_Validate() {
	c := &decode.Options{Format: decode.FormatSenML, TimePath: "t", Fields: []decode.Field{{Name: "a"}, {Name: "a"}}}
	var ps record.OptionErrors
	errors.As(c.Validate(), &ps)
	for _, p := range ps {
		fmt.Println(p)
	}
	// Output:
	// time_path: not used by format senml (time is bt+t)
	// fields[1].name: duplicate field name "a" (also fields[0])
}

func ExampleMatchFilter() {
	fmt.Println(decode.MatchFilter("city/+/air/#", "city/d7/air/s-123"))
	fmt.Println(decode.MatchFilter("city/+/air/#", "city/d7/noise/s-9"))
	// Output:
	// true
	// false
}

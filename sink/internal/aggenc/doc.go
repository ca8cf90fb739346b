// Package aggenc holds the encoders both output formats share: the
// deterministic aggregate id and the flat JSON value of an aggregate. Package
// sink re-exports them; package compact uses them to turn a decoded block
// back into exactly the JSON the json format would have sent.
package aggenc

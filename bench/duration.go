package bench

import "github.com/edgeplane/edgeplane/config"

// Duration is a YAML/JSON duration ("10s", "250ms"), the same type the
// gateway config uses.
type Duration = config.Duration

package pipeline_test

import (
	"net/http"
	"time"
)

var srvClient = &http.Client{Timeout: 5 * time.Second}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/edgeplane/edgeplane/config"
)

// apiClient talks to a running gateway's read API (/v1/), for `edgeplane
// top` and `edgeplane tap`.
type apiClient struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// apiFlags adds the flags naming a gateway: -addr, -token and -c (the
// gateway's config: its http_listen and http_token).
func apiFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	addr := fs.String("addr", "", "the gateway's HTTP listener, host:port or URL (default: -c's gateway.http_listen, else "+config.DefaultHTTPListen+")")
	token := fs.String("token", "", "bearer token of the read API (default: $EDGEPLANE_HTTP_TOKEN, else -c's gateway.http_token)")
	file := fs.String("c", "", "the running gateway's config file, for its address and token")
	return func() (*apiClient, error) {
		a, tok := *addr, *token
		if tok == "" {
			tok = os.Getenv("EDGEPLANE_HTTP_TOKEN")
		}
		if *file != "" {
			c, err := config.Load(*file)
			if err != nil {
				return nil, err
			}
			if a == "" {
				if c.Gateway.HTTPListen == "off" {
					return nil, fmt.Errorf("%s: gateway.http_listen is off", *file)
				}
				a = c.Gateway.HTTPListen
			}
			if tok == "" {
				tok = c.Gateway.HTTPToken
				if c.Gateway.HTTPTokenFile != "" {
					b, err := os.ReadFile(c.Gateway.HTTPTokenFile)
					if err != nil {
						return nil, fmt.Errorf("gateway.http_token_file: %w", err)
					}
					tok = strings.TrimSpace(string(b))
				}
			}
		}
		if a == "" {
			a = config.DefaultHTTPListen
		}
		if !strings.Contains(a, "://") {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("-addr %q: %w", a, err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			a = "http://" + net.JoinHostPort(host, port)
		}
		return &apiClient{base: strings.TrimRight(a, "/"), token: tok, hc: &http.Client{}}, nil
	}
}

// get sends GET path and returns the response when its status is 200;
// otherwise the API's error message.
func (c *apiClient) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, e.Error)
	}
	return resp, nil
}

// getJSON GETs path into v, within timeout.
func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

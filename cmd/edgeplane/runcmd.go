package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/version"
	"github.com/edgeplane/edgeplane/pipeline"
)

func cmdRun(args []string, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	file := fs.String("c", "", "config file or directory (required)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *file == "" {
		fmt.Fprintln(stderr, "edgeplane run: -c FILE is required")
		return errUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Gateway.LogLevel)
	log.Info("starting", "version", version.String("edgeplane"), "config", *file)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Catch SIGHUP before the (possibly slow) start: its default action
	// would end the process, and systemd would take that for a clean exit.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return runGateway(ctx, cfg, *file, log, hup, nil)
}

// runGateway runs a loaded config until ctx ends, reloading on hup.
// onHTTP, when set, is called with the HTTP listener's address as soon as
// it listens (tests).
func runGateway(ctx context.Context, cfg *config.Config, file string, log *slog.Logger, hup <-chan os.Signal, onHTTP func(addr string)) error {
	g, _, stopHTTP, err := launch(ctx, cfg, pipeline.Options{Logger: log}, log, onHTTP)
	if err != nil {
		return err
	}
	pidFile := filepath.Join(cfg.Gateway.DataDir, "edgeplane.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		log.Warn("cannot write pid file; 'edgeplane reload' will not find this process", "file", pidFile, "err", err)
	} else {
		defer os.Remove(pidFile)
	}
	for {
		select {
		case <-hup:
			reload(ctx, g, file, log)
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("signal received; stopping")
	stopHTTP()
	return g.Stop(context.Background())
}

// reload re-reads the config file and applies it; a config that does not
// validate, or a change that needs a restart, is refused and the running
// config kept.
func reload(ctx context.Context, g *pipeline.Gateway, file string, log *slog.Logger) {
	log.Info("SIGHUP: reloading", "config", file)
	next, err := config.Load(file)
	if err != nil {
		g.ReloadRefused()
		log.Error("reload refused: the config does not validate; the running config is kept", "config", file, "problems", err.Error())
		return
	}
	if err := g.Reload(ctx, next); err != nil {
		return // logged by Reload
	}
}

func cmdReload(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reload", stderr)
	file := fs.String("c", "", "config file or directory of the running gateway (required)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *file == "" {
		fmt.Fprintln(stderr, "edgeplane reload: -c FILE is required")
		return errUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return fmt.Errorf("not reloading: %w", err)
	}
	pidFile := filepath.Join(cfg.Gateway.DataDir, "edgeplane.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("no running gateway found: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("bad pid file %s: %w", pidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal gateway (pid %d): %w", pid, err)
	}
	fmt.Fprintf(stdout, "sent SIGHUP to edgeplane (pid %d); the config validated, see its log for the result\n", pid)
	return nil
}

// launch builds a gateway, serves its HTTP endpoints at once — so
// /healthz answers and /readyz says what start-up is at while Start runs
// — and then starts it. A config error never leaves a half-built pipeline
// running; a failed Start closes the HTTP listener again. addr is the
// HTTP listener's address ("" when http_listen is off).
func launch(ctx context.Context, cfg *config.Config, o pipeline.Options, log *slog.Logger, onHTTP func(addr string)) (g *pipeline.Gateway, addr string, stopHTTP func(), err error) {
	g, err = pipeline.New(cfg, o)
	if err != nil {
		return nil, "", nil, err
	}
	applyMemoryLimit(g.Memory(), log)
	applyGCPercent(cfg.Gateway.GCPercent, log)
	addr, stopHTTP, err = serveHTTP(cfg, g, log)
	if err != nil {
		return nil, "", nil, err
	}
	if onHTTP != nil {
		onHTTP(addr)
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := g.Start(sctx); err != nil {
		stopHTTP()
		return nil, "", nil, err
	}
	return g, addr, stopHTTP, nil
}

// serveHTTP serves /metrics, /healthz, /readyz and the read API (/v1/) on
// gateway.http_listen, and /debug/pprof/ with gateway.pprof; it returns
// the address it listens on.
func serveHTTP(cfg *config.Config, g *pipeline.Gateway, log *slog.Logger) (addr string, stop func(), err error) {
	if cfg.Gateway.HTTPListen == "off" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Gateway.HTTPListen)
	if err != nil {
		return "", nil, fmt.Errorf("http listen %s: %w", cfg.Gateway.HTTPListen, err)
	}
	h, endpoints := g.Handler(), "/metrics /healthz /readyz /v1/"
	if cfg.Gateway.Pprof {
		h, endpoints = withPprof(h), endpoints+" /debug/pprof/"
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	srv.RegisterOnShutdown(g.CloseTaps) // live taps never go idle by themselves
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("http listening", "addr", ln.Addr().String(), "endpoints", endpoints)
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// withPprof serves Go's profiles under /debug/pprof/ (gateway.pprof;
// validation keeps it to a loopback listener) and everything else with h.
// The handlers are registered here, not taken from http.DefaultServeMux,
// which this process never serves.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs, …
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

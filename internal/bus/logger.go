package bus

import (
	"fmt"
	"log/slog"
)

// serverLogger routes an embedded nats-server's logs to slog. It exists because the
// server's own logger (ConfigureLogger) calls log.Fatalf on a fatal error and would take
// the whole node down; here a fatal error is logged and reported to the bus, which then
// reports not ready.
type serverLogger struct {
	log   *slog.Logger
	fatal func(error)
}

// Noticef is debug: the server's notices are its start-up banner and routine connection
// events, which the bus reports in its own words (ready, not ready, why).
func (l serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

func (l serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error("nats-server fatal error", "error", msg)
	l.fatal(fmt.Errorf("bus: embedded nats-server: %s", msg))
}

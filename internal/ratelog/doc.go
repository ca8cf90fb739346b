// Package ratelog limits repeating log lines so that a gateway's log fits
// an SD card while a dependency is down.
//
// The rule, the same for every repeating warning of the gateway (Kafka
// delivery and connection failures, buffer fetch and publish retries, a
// full buffer, frames removed by the buffer's limits, MQTT dial failures,
// reconnects and subscribe failures, rejected messages):
//
//   - lines are grouped by a key, by default the message itself;
//   - per key at most one line is written per interval (DefaultInterval,
//     30 s, unless the caller says otherwise): the first one at once,
//     then the first one after the interval has passed;
//   - every line written carries suppressed=N, the number of lines of its
//     key dropped since the previous line of that key (0 on the first).
//
// So a condition that repeats every second costs two lines a minute, and
// the count tells how often it happened. Lines dropped after the last
// line of a key are not reported until the key logs again: callers that
// log a recovery (for example "kafka delivery recovered") say how many
// failures it ended.
//
// Keys must come from a small fixed set (message constants, reason
// names): the state of every key is kept for the Logger's lifetime.
//
// A Logger's clock can be replaced (WithClock) for tests; inside a
// testing/synctest bubble the default clock, time.Now, is already fake.
// Hot paths that would allocate building the line's attributes call
// AllowAt first and build them only when it says yes: AllowAt with a
// constant key does not allocate.
package ratelog

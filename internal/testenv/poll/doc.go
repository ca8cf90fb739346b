// Package poll is the tests' wait for a condition, in place of sleeps:
// Until calls a check until it passes or a timeout fails the test. It
// imports only the standard library, so that the tests of packages
// testenv itself builds on (natsd, internal/clock) use it too;
// testenv.CheckFor is Until. It is imported by tests only.
package poll

// Package browsertest drives the Meridian web app in real Chromium (through chromedp)
// against a real in-process server. It has no code of its own outside its tests: the
// harness and the tests are in the _test.go files, and harness_test.go explains how to
// write a test with it. The browser itself (binary, flags, launch) comes from
// internal/chromium, which the network lab's tests share.
//
// WebRTC in Chromium gathers ICE candidates on every network interface it can see, and
// tests on this project may send packets only to loopback. So TestMain re-executes the
// test binary inside a fresh network namespace that holds nothing but lo, and deletes the
// namespace afterwards. That needs root and the ip command; without them (or without a
// Chromium binary) the package skips, unless the environment variable CI is set, where a
// missing prerequisite is a failure.
//
// Environment:
//
//	MERIDIAN_CHROMIUM          the browser binary (default /usr/bin/chromium, then chromium in PATH)
//	MERIDIAN_TEST_ARTIFACTS    where failing tests leave screenshots and console logs
//	                           (default <os.TempDir()>/meridian-test-artifacts)
//	MERIDIAN_TEST_DEBUG        non-empty: server logs at debug level, browser console in the test log
//	CI                         non-empty: missing prerequisites fail instead of skipping
//	MERIDIAN_BROWSERTEST_NETNS set by TestMain for the re-executed binary: the namespace it runs in
package browsertest

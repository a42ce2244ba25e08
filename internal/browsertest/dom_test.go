package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// The DOM helpers of a user. Each waits up to u.Timeout for the page to be in the state
// it needs, looking again every pollInterval, and stops the test with what it saw last.
// They run their checks as JavaScript in the page rather than through chromedp's DOM
// queries: one snippet can both decide and explain (absent, hidden by which ancestor,
// covered by what), and it does not care that an SPA replaces nodes between two looks.

// Navigate loads a URL (a path is joined to the server's URL) and waits for its load
// event.
func (u *user) Navigate(url string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u.url(url))); err != nil {
		u.fatalf("navigate to %s: %v", u.url(url), err)
	}
}

// URL is the page's current address.
func (u *user) URL() string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		u.fatalf("read the location: %v", err)
	}
	return loc
}

// Eval evaluates a JavaScript expression in the page, awaits it if it is a promise, and
// decodes its JSON value into out (which may be nil to ignore it).
func (u *user) Eval(js string, out any) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	raw, err := evalJSON(ctx, js)
	if err != nil {
		u.fatalf("eval %s: %v", abbreviate(js), err)
	}
	if out == nil {
		return
	}
	if raw == nil {
		raw = []byte("null") // undefined
	}
	if err := json.Unmarshal(raw, out); err != nil {
		u.fatalf("eval %s: decode %s into %T: %v", abbreviate(js), abbreviate(string(raw)), out, err)
	}
}

// WaitFor waits until a JavaScript expression is truthy (it may return a promise); what
// says in words what is awaited, for the failure message.
func (u *user) WaitFor(what, js string) {
	u.t.Helper()
	u.wait(what, nil, `async () => {
		const v = await (`+js+`);
		return { ok: !!v, state: v };
	}`)
}

// WaitVisible waits until an element matching sel is visible: rendered, not hidden by
// CSS and with a box.
func (u *user) WaitVisible(sel string) {
	u.t.Helper()
	u.wait(sel+" visible", nil, `(sel) => {
		const els = bt.all(sel);
		if (!els.length) return { ok: false, state: "no element matches" };
		if (els.some(bt.visible)) return { ok: true };
		return { ok: false, state: els.length + " match, none visible; the first: " + bt.why(els[0]) };
	}`, sel)
}

// WaitGone waits until no element matching sel is visible (absent or hidden).
func (u *user) WaitGone(sel string) {
	u.t.Helper()
	u.wait(sel+" gone", nil, `(sel) => {
		const v = bt.all(sel).filter(bt.visible);
		return v.length ? { ok: false, state: v.length + " visible: " + bt.describe(v[0]) } : { ok: true };
	}`, sel)
}

// WaitText waits until a visible element matching sel has text (or, for a form field,
// a value) containing want, and returns that whole text.
func (u *user) WaitText(sel, want string) string {
	u.t.Helper()
	var got string
	u.wait(fmt.Sprintf("%s to contain %q", sel, want), &got, `(sel, want) => {
		const els = bt.all(sel).filter(bt.visible);
		if (!els.length) return { ok: false, state: "no visible element matches" };
		const texts = els.map(bt.text);
		const hit = texts.find(t => t.includes(want));
		return hit !== undefined ? { ok: true, value: hit } : { ok: false, state: texts.slice(0, 10) };
	}`, sel, want)
	return got
}

// WaitCount waits until exactly n elements match sel, visible or not.
func (u *user) WaitCount(sel string, n int) {
	u.t.Helper()
	u.wait(fmt.Sprintf("%d of %s", n, sel), nil, `(sel, n) => {
		const got = bt.all(sel).length;
		return { ok: got === n, state: got + " match" };
	}`, sel, n)
}

// Count is how many elements match sel now (no wait).
func (u *user) Count(sel string) int {
	u.t.Helper()
	var n int
	u.wait("count "+sel, &n, `(sel) => ({ ok: true, value: bt.all(sel).length })`, sel)
	return n
}

// Text waits for an element matching sel to be present and returns its text, trimmed:
// innerText, or the value for input, textarea and select.
func (u *user) Text(sel string) string {
	u.t.Helper()
	var s string
	u.wait(sel+" present", &s, `(sel) => {
		const el = bt.all(sel)[0];
		return el ? { ok: true, value: bt.text(el) } : { ok: false, state: "no element matches" };
	}`, sel)
	return s
}

// Texts returns the text of every element matching sel (none is fine: no wait).
func (u *user) Texts(sel string) []string {
	u.t.Helper()
	var s []string
	u.wait("texts of "+sel, &s, `(sel) => ({ ok: true, value: bt.all(sel).map(bt.text) })`, sel)
	return s
}

// Attr waits for an element matching sel and returns its attribute name, or, for the
// names href, value, src and checked, the DOM property (an absolute URL for href).
func (u *user) Attr(sel, name string) string {
	u.t.Helper()
	var s string
	u.wait(sel+" present", &s, `(sel, name) => {
		const el = bt.all(sel)[0];
		if (!el) return { ok: false, state: "no element matches" };
		if (["href", "value", "src", "checked"].includes(name) && name in el) return { ok: true, value: String(el[name]) };
		const v = el.getAttribute(name);
		return v === null ? { ok: false, state: bt.describe(el) + " has no attribute " + name } : { ok: true, value: v };
	}`, sel, name)
	return s
}

// Click waits until the first visible element matching sel is enabled and not covered
// by another element, then clicks its centre with the mouse, as a person would (the
// page gets trusted events and a user activation, which getDisplayMedia needs).
func (u *user) Click(sel string) {
	u.t.Helper()
	var at struct{ X, Y float64 }
	u.wait("click "+sel, &at, `(sel) => {
		const els = bt.all(sel);
		const el = els.find(bt.visible);
		if (!el) return { ok: false, state: els.length ? "none visible; the first: " + bt.why(els[0]) : "no element matches" };
		if (el.disabled || el.closest("fieldset:disabled")) return { ok: false, state: bt.describe(el) + " is disabled" };
		el.scrollIntoView({ block: "center", inline: "center" });
		const r = el.getBoundingClientRect();
		const x = r.left + r.width / 2, y = r.top + r.height / 2;
		const hit = document.elementFromPoint(x, y);
		if (!hit || !(el === hit || el.contains(hit) || hit.tagName === "LABEL" && hit.control === el))
			return { ok: false, state: bt.describe(el) + " is covered by " + (hit ? bt.describe(hit) : "nothing") };
		return { ok: true, value: { X: x, Y: y } };
	}`, sel)
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.MouseEvent(chromedp.MouseMoved, at.X, at.Y),
		chromedp.MouseClickXY(at.X, at.Y),
	); err != nil {
		u.fatalf("click %s: %v", sel, err)
	}
}

// Fill sets the form field named name (the first visible [name=...]): it types value
// into a text field with real key events after clearing it, picks the option of a
// select, sets a checkbox from "true"/"false", and sets other inputs (date,
// datetime-local, time, range, ...) directly, firing input and change.
func (u *user) Fill(name, value string) {
	u.t.Helper()
	u.FillSelector(`[name="`+cssString(name)+`"]`, value)
}

// FillSelector is Fill for the first visible element matching a CSS selector.
func (u *user) FillSelector(sel, value string) {
	u.t.Helper()
	var how string
	u.wait("fill "+sel, &how, `(sel, value) => {
		const el = bt.all(sel).find(bt.visible);
		if (!el) return { ok: false, state: "no visible element matches" };
		if (el.disabled || el.readOnly) return { ok: false, state: bt.describe(el) + " is disabled or read-only" };
		const fire = () => {
			el.dispatchEvent(new Event("input", { bubbles: true }));
			el.dispatchEvent(new Event("change", { bubbles: true }));
		};
		// The prototype's setter, as frameworks that track values expect.
		const set = (prop, v) => Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), prop).set.call(el, v);
		if (el.tagName === "SELECT") {
			const opts = [...el.options].map(o => o.value);
			if (!opts.includes(value)) return { ok: false, state: "no option " + JSON.stringify(value) + " in " + JSON.stringify(opts) };
			set("value", value); fire();
			return { ok: true, value: "set" };
		}
		const type = (el.type || "").toLowerCase();
		if (type === "checkbox" || type === "radio") {
			set("checked", value === "true" || value === "on"); fire();
			return { ok: true, value: "set" };
		}
		const typed = el.tagName === "TEXTAREA" || el.isContentEditable ||
			["", "text", "email", "password", "search", "tel", "url", "number"].includes(type);
		if (!typed) { set("value", value); fire(); return { ok: true, value: "set" }; }
		el.focus();
		if (el.isContentEditable) el.textContent = ""; else set("value", "");
		el.dispatchEvent(new Event("input", { bubbles: true }));
		return { ok: true, value: "type" };
	}`, sel, value)
	if how != "type" {
		return
	}
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(value)); err != nil {
		u.fatalf("type into %s: %v", sel, err)
	}
	u.wait(fmt.Sprintf("%s to hold %q", sel, value), nil, `(value) => {
		const el = document.activeElement;
		const v = el ? (el.isContentEditable ? el.textContent : el.value) : undefined;
		return { ok: v === value, state: { focused: el && bt.describe(el), value: v } };
	}`, value)
}

// Clipboard returns the text on the clipboard, e.g. after a click on a "copy" button.
// The browser has one clipboard, shared by all the users of an env.
func (u *user) Clipboard() string {
	u.t.Helper()
	var s string
	u.Eval(`navigator.clipboard.readText()`, &s)
	return s
}

// Type clicks sel and sends key events for text to what has the focus then; "\n" is
// the Enter key. Unlike Fill, it keeps what the field held, and types after it.
func (u *user) Type(sel, text string) {
	u.t.Helper()
	u.Click(sel)
	// The click put the caret where it landed, in the middle of any text.
	u.Eval(`(() => {
		const el = document.activeElement;
		try { el.setSelectionRange(el.value.length, el.value.length); } catch {} // not every input has a caret
	})()`, nil)
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(text)); err != nil {
		u.fatalf("type into %s: %v", sel, err)
	}
}

// wait is poll with the user's timeout, stopping the test when it fails.
func (u *user) wait(what string, out any, fn string, args ...any) {
	u.t.Helper()
	if err := u.poll(u.Timeout, what, out, fn, args...); err != nil {
		u.fatalf("%v", err)
	}
}

// poll evaluates fn (see withLib) until it returns {ok: true}, and decodes the {value}
// of that answer into out when out is not nil. After timeout, its error has the last
// {state} fn returned.
func (u *user) poll(timeout time.Duration, what string, out any, fn string, args ...any) error {
	js := withLib(fn, args...)
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		raw, err := evalJSON(ctx, js)
		cancel()
		var res struct {
			OK    bool            `json:"ok"`
			Value json.RawMessage `json:"value"`
			State json.RawMessage `json:"state"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &res)
		}
		switch {
		case err != nil && fatalEvalError(err):
			return fmt.Errorf("%s: %w", what, err)
		case err != nil:
			// Usually a navigation replaced the document under the evaluation.
			last = err.Error()
		case res.OK:
			if out != nil && res.Value != nil {
				if err := json.Unmarshal(res.Value, out); err != nil {
					return fmt.Errorf("%s: decode %s into %T: %w", what, abbreviate(string(res.Value)), out, err)
				}
			}
			return nil
		default:
			last = string(res.State)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(pollInterval)
	}
}

// btLib is a small library of DOM helpers for the snippets the waits run; it is
// declared in each evaluation, not installed in the page.
const btLib = `const bt = {
	all(sel) { return [...document.querySelectorAll(sel)]; },
	visible(el) {
		if (!el.isConnected || !el.getClientRects().length) return false;
		return el.checkVisibility ? el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) : true;
	},
	describe(el) {
		let s = el.tagName.toLowerCase();
		for (const a of ["id", "name", "data-testid", "data-participant-id", "data-source", "data-action", "class"]) {
			const v = el.getAttribute(a);
			if (v) s += "[" + a + "=" + JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v) + "]";
		}
		return s;
	},
	why(el) {
		const cs = getComputedStyle(el);
		if (!el.isConnected) return bt.describe(el) + " is detached";
		if (cs.display === "none") return bt.describe(el) + " has display:none";
		for (let p = el.parentElement; p; p = p.parentElement)
			if (getComputedStyle(p).display === "none") return bt.describe(el) + " is inside " + bt.describe(p) + " with display:none";
		if (cs.visibility !== "visible") return bt.describe(el) + " has visibility:" + cs.visibility;
		if (!el.getClientRects().length) return bt.describe(el) + " has no box";
		return bt.describe(el) + " is hidden (opacity or content-visibility)";
	},
	text(el) {
		if (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) return el.value;
		return (el.innerText ?? el.textContent).trim();
	},
};`

// withLib makes an expression that calls fn, a JS function (async or not), on args
// (encoded as JSON), with btLib in scope.
func withLib(fn string, args ...any) string {
	enc := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			panic(fmt.Sprintf("browsertest: encode a JS argument: %v", err)) // a bug in a helper
		}
		enc[i] = string(b)
	}
	return "(async () => {\n" + btLib + "\nreturn await (" + fn + ")(" + strings.Join(enc, ", ") + ");\n})()"
}

// evalJSON evaluates js in the page, awaiting a promise, and returns its JSON value (nil
// for undefined).
func evalJSON(ctx context.Context, js string) ([]byte, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
}

// fatalEvalError tells the errors that retrying cannot fix (the tab is gone, the
// script or a selector is malformed) from those of a page in mid-navigation.
func fatalEvalError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, chromedp.ErrTargetDetached) {
		return true
	}
	var ex *chromedp.ExceptionError
	return errors.As(err, &ex) && (strings.Contains(err.Error(), "SyntaxError") || strings.Contains(err.Error(), "not a valid selector"))
}

// cssString escapes s for a double-quoted CSS string.
func cssString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\a `).Replace(s)
}

// abbreviate shortens a script or a value for a failure message.
func abbreviate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// Package label checks text that one person shows to others beside other people's: display
// names, account names, meeting topics. Such text must not be able to pass for someone
// else's, so besides control characters it may hold no character that changes how the
// text around it is drawn without being drawn itself: bidirectional overrides and
// isolates, zero-width characters, fillers and other default-ignorable code points. Free
// text (chat) is not a label and is not checked here.
package label

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Codes of the refusals: CodeInvalid for empty, overlong, malformed or control-character
// text; CodeInvisible for text with invisible or direction-changing characters.
const (
	CodeInvalid   = "invalid_input"
	CodeInvisible = "invisible_characters"
)

// Error is a refusal with a stable Code (one of the codes above) and a Message that names
// the field and, for an invisible character, which one it is.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "label: " + e.Message }

// Check returns nil when s is a label of 1 to maxRunes characters that a person can read
// as it will be shown; what names the field in the message ("display name"). The caller
// trims s first if it should.
func Check(what, s string, maxRunes int) *Error {
	switch {
	case s == "":
		return &Error{CodeInvalid, "a " + what + " is required"}
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes:
		return &Error{CodeInvalid, fmt.Sprintf("the %s must be valid text of at most %d characters", what, maxRunes)}
	case strings.ContainsFunc(s, unicode.IsControl):
		return &Error{CodeInvalid, "the " + what + " contains control characters"}
	}
	rs := []rune(s)
	visible := false
	for i, r := range rs {
		var prev, next rune
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		if !allowed(prev, r, next) {
			return &Error{CodeInvisible, fmt.Sprintf(
				"the %s contains an invisible or direction-changing character (U+%04X); remove it", what, r)}
		}
		visible = visible || isVisible(r)
	}
	if !visible {
		return &Error{CodeInvisible, "the " + what + " has no visible characters"}
	}
	return nil
}

const (
	zwnj = '\u200C'
	zwj  = '\u200D'
)

// allowed tells whether r may stand between prev and next (0 at either end).
func allowed(prev, r, next rune) bool {
	switch {
	case r == zwnj:
		// Needed inside words of scripts that join letters (Persian, the Indic scripts),
		// where it changes the shape of real letters; between Latin letters it only hides.
		return joining(prev) && joining(next)
	case r == zwj:
		// Also needed inside emoji sequences (a family, a profession with a skin tone).
		return (joining(prev) && joining(next)) || (pictograph(prev) && pictograph(next))
	case unicode.Is(unicode.Variation_Selector, r):
		// Chooses how the character before it is drawn (an emoji's colour presentation):
		// harmless after a visible character, and nothing on its own.
		return prev != 0 && isVisible(prev)
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		// Cf holds the bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
		// U+061C), U+200B, U+2060–U+2064, U+FEFF, U+180E, U+00AD and the tags; the other
		// default-ignorables hold the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0).
		return false
	}
	return true
}

// joiningScripts are the scripts in which ZWNJ and ZWJ select letter forms.
var joiningScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian, unicode.Devanagari, unicode.Bengali,
	unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya, unicode.Tamil, unicode.Telugu, unicode.Kannada,
	unicode.Malayalam, unicode.Sinhala, unicode.Myanmar, unicode.Khmer, unicode.Tibetan,
}

func joining(r rune) bool { return r != 0 && unicode.In(r, joiningScripts...) }

// pictograph approximates Extended_Pictographic (which package unicode lacks) by the
// blocks emoji live in (skin tones included), and U+FE0F, which may end the emoji before
// a joiner.
func pictograph(r rune) bool {
	return (r >= 0x1F000 && r <= 0x1FAFF) || (r >= 0x2600 && r <= 0x27BF) || (r >= 0x2B00 && r <= 0x2BFF) || r == 0xFE0F
}

// isVisible tells whether r draws something of its own.
func isVisible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) &&
		!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

package label

import "testing"

func TestCheckRefusesInvisibleAndDirectionChangingCharacters(t *testing.T) {
	for _, s := range []string{
		"Alice\u202E", "\u202Eecila", "Al\u202Dice", "Al\u2066ice\u2069", "Alice\u200E", "Alice\u200F", "Ali\u061Cce",
		"Al\u200Bice", "Al\u200Cice", "Al\u200Dice", "Al\u2060ice", "Al\u2062ice", "\uFEFFAlice", "Al\u180Eice",
		"\u115F", "\u1160Alice", "\u3164", "Alice\uFFA0", "Al\u00ADice", "\uFE0F", "\U000E0041lice", "Alice\U000E007F",
		"\u200D", "\u3164\u3164",
	} {
		e := Check("display name", s, 100)
		if e == nil || e.Code != CodeInvisible {
			t.Errorf("%+q: got %v, want %s", s, e, CodeInvisible)
		}
	}
}

func TestCheckKeepsRealNames(t *testing.T) {
	for _, s := range []string{
		"Alice", "José Ñúñez", "Ωμέγα", "李小龍", "محمد", "אבי כהן", "Ada 🙂", "❤\uFE0F team",
		"می\u200Cخواهم",   // Persian: ZWNJ between joining letters
		"क्\u200Dष",       // Devanagari: ZWJ after a virama
		"👨\u200D👩\u200D👧", // an emoji family
		"👩🏽\u200D💻",       // a skin tone and a joiner
		"Weekly sync (Q3) — 2030",
	} {
		if e := Check("display name", s, 100); e != nil {
			t.Errorf("%+q refused: %v", s, e)
		}
	}
}

func TestCheckRefusesEmptyOverlongAndControlCharacters(t *testing.T) {
	for _, s := range []string{"", "abcdef", "a\x00b", "a\nb", "\xff"} {
		if e := Check("topic", s, 5); e == nil || e.Code != CodeInvalid {
			t.Errorf("%+q: got %v, want %s", s, e, CodeInvalid)
		}
	}
}

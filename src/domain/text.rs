//! Text as search compares it: English and Urdu written in any of their
//! common code-point variants reduce to one form, so an officer finds a
//! word however their keyboard typed it.
//!
//! Each character is decomposed by compatibility (NFKD: presentation forms
//! to letters, a letter with hamza or madda to the letter and its mark) and
//! the marks are dropped: diacritics (zer, zabar, pesh, tashdeed,
//! superscript alef, hamza and madda; Latin accents too), tatweel and
//! zero-width joiners. Arabic yeh and alef maksura fold to Farsi/Urdu yeh
//! (ی), Arabic kaf to keheh (ک), Arabic heh to heh goal (ہ) while
//! do-chashmi heh (ھ) is kept, and Arabic-Indic and Urdu digits become
//! ASCII. Everything is lower-cased (stemming is the analyzer's). Working a
//! character at a time keeps every word's place in the original text, for
//! highlighting.

use unicode_normalization::UnicodeNormalization;

/// Whether a code point is a mark that changes no word (Arabic-script marks,
/// Latin accents, joiners).
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'   // Latin combining accents
        | '\u{0610}'..='\u{061A}'   // honorifics and small marks above
        | '\u{064B}'..='\u{065F}' // harakat: fathatan … wavy hamza below
        | '\u{0670}'              // superscript alef
        | '\u{06D6}'..='\u{06ED}' // Quranic annotation marks
        | '\u{0640}'              // tatweel
        | '\u{200C}' | '\u{200D}' // zero-width non-joiner, joiner
        | '\u{200E}' | '\u{200F}' // directional marks
    )
}

/// One character as search compares it.
fn fold(c: char) -> char {
    match c {
        '\u{064A}' | '\u{0649}' => '\u{06CC}', // ي ى → ی
        '\u{0643}' => '\u{06A9}',              // ك → ک
        '\u{0647}' => '\u{06C1}',              // ه → ہ (ھ stays)
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        _ => c,
    }
}

/// Appends the searchable form of one character (nothing for a mark).
fn push_folded(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for d in std::iter::once(c).nfkd() {
        if !is_mark(d) {
            out.extend(fold(d).to_lowercase());
        }
    }
}

/// The searchable form of `text`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(c, &mut out);
    }
    out
}

/// The words of `text` in searchable form, each with its byte range in
/// `text`: runs of letters and digits, marks inside a word kept in it (a
/// file number `7-12/2026` is the words `7`, `12`, `2026`, found as a phrase).
pub fn words(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut piece = String::new();
    for (i, c) in text.char_indices() {
        piece.clear();
        push_folded(c, &mut piece);
        if piece.is_empty() && !word.is_empty() {
            continue; // a mark inside a word
        }
        if !piece.is_empty() && piece.chars().all(char::is_alphanumeric) {
            if word.is_empty() {
                start = i;
            }
            word.push_str(&piece);
        } else if !word.is_empty() {
            out.push((start, i, std::mem::take(&mut word)));
        }
    }
    if !word.is_empty() {
        out.push((start, text.len(), word));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(s: &str) -> Vec<String> {
        words(s).into_iter().map(|(_, _, w)| w).collect()
    }

    #[test]
    fn urdu_variants_meet() {
        // "Pakistan" typed with Arabic yeh and kaf, with and without diacritics and tatweel.
        let keyboard = "پاکستان کی حکومت";
        let arabic = "پاكستان كي حكومت";
        let marked = "پاکِستان کی حُکومت";
        let stretched = "پاکـستان کی حکومـت";
        for v in [arabic, marked, stretched] {
            assert_eq!(normalize(v), normalize(keyboard), "{v}");
        }
        // Heh folds to heh goal; do-chashmi heh is a different letter and stays.
        assert_eq!(normalize("ه"), "ہ");
        assert_eq!(normalize("ھ"), "ھ");
        // Zero-width joiners vanish; presentation forms compose.
        assert_eq!(normalize("نام\u{200C}ہ"), normalize("نامہ"));
        assert_eq!(normalize("\u{FEE1}"), "م");
        // Digits become ASCII.
        assert_eq!(normalize("۲۰۲۶ ٢٠٢٦"), "2026 2026");
    }

    #[test]
    fn numbers_split_into_their_parts() {
        assert_eq!(words_of("No. 7-12/2026-IT(Admin)"), ["no", "7", "12", "2026", "it", "admin"]);
        assert_eq!(words_of("MOITT/R/2026/00042"), ["moitt", "r", "2026", "00042"]);
        // The hamza of ئ is a mark: فائل is searched as فایل, however typed.
        assert_eq!(words_of("فائل نمبر ۷"), ["فایل", "نمبر", "7"]);
        assert!(words_of("  -- ").is_empty());
        // Each word keeps its place in the original text.
        let text = "Draft: پاکِستان";
        let w = words(text);
        assert_eq!(&text[w[1].0..w[1].1], "پاکِستان");
        assert_eq!(w[1].2, normalize("پاکستان"));
        // Hamza and madda are marks too; accents go.
        assert_eq!(normalize("آ ۂ Café"), "ا ہ cafe");
    }
}

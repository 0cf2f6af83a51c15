//! Public tracking of a letter by its diary number (issue 26): the tracking
//! code a sender is given, and what the tracking page may say — the stages
//! a receipt went through and the *section* dealing with it, never a person,
//! a file number or a subject.

use super::org::Clearance;

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or
/// copied from paper is not mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Bytes of randomness in a code: 80 bits, far beyond guessing at the rate
/// the tracking page allows.
pub const CODE_BYTES: usize = 10;

/// The highest classification a receipt may have and still be tracked.
pub const TRACKABLE_UP_TO: Clearance = Clearance::Restricted;

/// Whether a receipt of this classification may be tracked at all.
pub fn trackable(classification: Clearance) -> bool {
    classification <= TRACKABLE_UP_TO
}

/// A code from `CODE_BYTES` random bytes: 16 characters in four groups
/// (`7K3M-Q9TX-2B8D-FW4R`).
pub fn code_from(bytes: &[u8; CODE_BYTES]) -> String {
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(*b);
    }
    let chars: Vec<char> = (0..16).rev().map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A code as typed, in the form it is stored under: upper case, without
/// spaces or dashes, O read as 0 and I or L as 1. `None` when it cannot be a
/// code (wrong length or characters).
pub fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
        if out.len() > 16 {
            return None;
        }
    }
    (out.len() == 16).then_some(out)
}

/// Where a letter is, as the tracking page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Received and entered in the diary by the registry.
    Diarised,
    /// Marked to a section, which is dealing with it.
    WithSection,
    /// Put up in a file for a decision.
    PutUp,
    /// The file it was put up in is closed: the matter is disposed of.
    Disposed,
}

/// One stage and when it began; `section` for the stages a section holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageAt {
    /// The stage.
    pub stage: Stage,
    /// The day it began (`YYYY-MM-DD`).
    pub on: String,
    /// The section that held it then (diarised: the registry's; put up: the
    /// section holding the file); never a person or a desk.
    pub section: Option<String>,
}

/// What happened to a receipt, as the tracking page needs it: each move to
/// a desk (the section of that desk, the day), then put up and disposed.
pub struct History {
    /// The day it was diarised, and the registry's section.
    pub diarised: (String, String),
    /// Moves to a desk in order: the desk's section and the day.
    pub moves: Vec<(String, String)>,
    /// The day it was put up, and the section holding the file now.
    pub put_up: Option<(String, Option<String>)>,
    /// The day the file it was put up in was closed, if it is closed.
    pub disposed: Option<String>,
}

/// The stages of a receipt: diarised, then one stage each time it reached
/// another section (moves within a section are not stages), put up, and
/// disposed.
pub fn stages(h: &History) -> Vec<StageAt> {
    let mut out =
        vec![StageAt { stage: Stage::Diarised, on: h.diarised.0.clone(), section: Some(h.diarised.1.clone()) }];
    let mut section = h.diarised.1.as_str();
    for (s, on) in &h.moves {
        if s != section {
            out.push(StageAt { stage: Stage::WithSection, on: on.clone(), section: Some(s.clone()) });
            section = s;
        }
    }
    if let Some((on, s)) = &h.put_up {
        out.push(StageAt { stage: Stage::PutUp, on: on.clone(), section: s.clone() });
        if let Some(d) = &h.disposed {
            out.push(StageAt { stage: Stage::Disposed, on: d.clone(), section: None });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_sixteen_unambiguous_characters_in_four_groups() {
        let code = code_from(&[0xff; CODE_BYTES]);
        assert_eq!(code, "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        assert_eq!(code_from(&[0; CODE_BYTES]), "0000-0000-0000-0000");
        let code = code_from(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.len(), 19);
        assert!(code.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
    }

    #[test]
    fn codes_are_read_as_typed_by_people() {
        let code = code_from(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        let plain = code.replace('-', "");
        assert_eq!(normalize(&code).as_deref(), Some(plain.as_str()));
        assert_eq!(normalize(&code.to_lowercase()).as_deref(), Some(plain.as_str()));
        assert_eq!(normalize(" 0000 0000 0000 000O ").as_deref(), Some("0000000000000000"));
        assert_eq!(normalize("IIII-LLLL-1111-1111").as_deref(), Some("1111111111111111"));
        assert_eq!(normalize("0000-0000-0000-000"), None);
        assert_eq!(normalize("0000-0000-0000-00000"), None);
        assert_eq!(normalize("0000-0000-0000-000U"), None);
        assert_eq!(normalize("0000-0000-0000-000é"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn only_unclassified_and_restricted_letters_are_tracked() {
        assert!(trackable(Clearance::Unclassified));
        assert!(trackable(Clearance::Restricted));
        assert!(!trackable(Clearance::Confidential));
        assert!(!trackable(Clearance::Secret));
        assert!(!trackable(Clearance::TopSecret));
    }

    fn day(d: u32) -> String {
        format!("2026-12-{d:02}")
    }

    #[test]
    fn stages_name_sections_once_each_time_the_letter_reaches_another() {
        let h = History {
            diarised: (day(1), "Receipt & Issue".into()),
            moves: vec![
                ("IT Admin".into(), day(2)),
                ("IT Admin".into(), day(3)), // SO to DS within the section: no new stage
                ("Budget".into(), day(4)),
            ],
            put_up: Some((day(5), Some("Budget".into()))),
            disposed: Some(day(9)),
        };
        let got: Vec<(Stage, String, Option<String>)> =
            stages(&h).into_iter().map(|s| (s.stage, s.on, s.section)).collect();
        assert_eq!(
            got,
            vec![
                (Stage::Diarised, day(1), Some("Receipt & Issue".into())),
                (Stage::WithSection, day(2), Some("IT Admin".into())),
                (Stage::WithSection, day(4), Some("Budget".into())),
                (Stage::PutUp, day(5), Some("Budget".into())),
                (Stage::Disposed, day(9), None),
            ]
        );
    }

    #[test]
    fn a_letter_still_at_the_registry_is_only_diarised() {
        let h = History { diarised: (day(1), "R&I".into()), moves: vec![], put_up: None, disposed: None };
        assert_eq!(stages(&h).len(), 1);
        // A move back to the registry's own section is no new stage either.
        let h = History { moves: vec![("R&I".into(), day(2))], ..h };
        assert_eq!(stages(&h).iter().map(|s| s.stage).collect::<Vec<_>>(), vec![Stage::Diarised]);
    }
}

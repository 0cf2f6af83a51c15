//! The organisation of government: unit kinds, clearances, roles, designations,
//! and the validated names (codes, usernames) that identify them.

use super::vocabulary;

vocabulary! {
    /// The kind of a node of the government tree, from the root down.
    OrgKind ("unit kind") {
        Government => "government",
        Ministry => "ministry",
        Division => "division",
        AttachedDepartment => "attached_department",
        Soe => "soe",
        Regulator => "regulator",
        Wing => "wing",
        Section => "section",
    }
}

impl OrgKind {
    /// Depth in the tree; a parent is always strictly shallower than its child.
    pub fn rank(self) -> u8 {
        match self {
            OrgKind::Government => 0,
            OrgKind::Ministry => 1,
            OrgKind::Division => 2,
            OrgKind::AttachedDepartment | OrgKind::Soe | OrgKind::Regulator => 3,
            OrgKind::Wing => 4,
            OrgKind::Section => 5,
        }
    }

    /// An entity reports compliance: ministries, divisions, attached
    /// departments, SOEs and regulators.
    pub fn is_entity(self) -> bool {
        matches!(self.rank(), 1..=3)
    }

    /// Whether a unit of this kind may sit directly under a unit of `parent`
    /// kind (`None` for a root).
    pub fn may_sit_under(self, parent: Option<OrgKind>) -> bool {
        match parent {
            None => self == OrgKind::Government,
            Some(p) => self != OrgKind::Government && p.rank() < self.rank(),
        }
    }
}

vocabulary! {
    /// How secret something is; ordered, so `a <= b` means "b may see a".
    Clearance ("clearance") {
        Unclassified => "unclassified",
        Restricted => "restricted",
        Confidential => "confidential",
        Secret => "secret",
        TopSecret => "top_secret",
    }
}

vocabulary! {
    /// What a user may do beyond reading and moving files at their desk.
    Role ("role") {
        Officer => "officer",
        Registry => "registry",
        OrgAdmin => "org_admin",
        Auditor => "auditor",
        Compliance => "compliance",
        Sysadmin => "sysadmin",
    }
}

impl Role {
    /// Roles that only mean something for one entity and must name it.
    pub fn is_entity_scoped(self) -> bool {
        matches!(self, Role::Registry | Role::OrgAdmin | Role::Auditor)
    }
}

vocabulary! {
    /// How a user holds a post.
    AssignmentKind ("assignment kind") {
        Regular => "regular",
        AdditionalCharge => "additional_charge",
        Acting => "acting",
    }
}

/// Designations whose holder is the administrative secretary (head) of an entity.
pub const HEAD_DESIGNATIONS: &[&str] = &["secretary", "director_general", "chairman", "managing_director"];

/// Whether a post of this designation heads its entity.
pub fn is_head_designation(designation: &str) -> bool {
    HEAD_DESIGNATIONS.contains(&designation)
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing was given.
    #[error("must not be empty")]
    Empty,
    /// Too long to be a short code or name.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// A character outside the allowed set.
    #[error("contains `{0}`; allowed are {1}")]
    BadChar(char, &'static str),
}

/// The short code of an org unit or post, e.g. `MOITT` or `IT(Admin)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

impl Code {
    const ALLOWED: &'static str = "letters, digits and ( ) - _ . & /";

    const MAX: usize = 40;
    const PUNCTUATION: &'static str = "()-_.&/";

    /// A code without the whitespace [`Code::parse`] trims, as a regular expression.
    pub fn core_pattern() -> String {
        format!(r"[A-Za-z0-9()\-_.&/]{{1,{}}}", Self::MAX)
    }

    /// What [`Code::parse`] accepts, as a regular expression.
    pub fn pattern() -> String {
        super::pattern::padded(&Self::core_pattern())
    }

    /// Parses a code: 1–40 ASCII letters, digits or `()-_.&/`.
    pub fn parse(s: &str) -> Result<Code, NameError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.chars().count() > Self::MAX {
            return Err(NameError::TooLong(Self::MAX));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || Self::PUNCTUATION.contains(*c))) {
            return Err(NameError::BadChar(c, Self::ALLOWED));
        }
        Ok(Code(s.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters in a new password: counted as characters, like the
/// fewest, so that the API document can state both; it keeps every password
/// within [`MAX_PASSWORD_BYTES`].
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Most bytes in a password tried at login (argon2 takes any length; requests should not).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password, the one rule for every way a password is set (the
/// API, `daftar user`, org-chart import): [`MIN_PASSWORD_CHARS`] to
/// [`MAX_PASSWORD_CHARS`] characters (not bytes: an Urdu password counts its letters).
pub fn check_new_password(pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

/// A login name: lower-case letters, digits, `.`, `_`, `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    const ALLOWED: &'static str = "lower-case letters, digits and . _ -";

    const MAX: usize = 64;

    /// What [`Username::parse`] accepts, as a regular expression.
    pub fn pattern() -> String {
        super::pattern::padded(&format!("[A-Za-z0-9._-]{{1,{}}}", Self::MAX))
    }

    /// Parses a username; upper case is folded so logins are case-insensitive.
    pub fn parse(s: &str) -> Result<Username, NameError> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > Self::MAX {
            return Err(NameError::TooLong(Self::MAX));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c))) {
            return Err(NameError::BadChar(c, Self::ALLOWED));
        }
        Ok(Username(s))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Most characters in a post's designation.
const MAX_DESIGNATION: usize = 60;

/// What [`parse_designation`] accepts, as a regular expression.
pub fn designation_pattern() -> String {
    super::pattern::padded(&format!("[a-z_]{{1,{MAX_DESIGNATION}}}"))
}

/// A post's designation: `lower_snake_case`, e.g. `section_officer`, kept trimmed.
pub fn parse_designation(s: &str) -> Result<&str, String> {
    let d = s.trim();
    if d.is_empty() || d.len() > MAX_DESIGNATION || !d.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return Err("must be lower_snake_case, e.g. section_officer".into());
    }
    Ok(d)
}

/// Most characters in an email address.
pub const MAX_EMAIL: usize = 254;

/// What [`parse_email`] accepts (its length is the schema's `maxLength`).
pub fn email_pattern() -> String {
    let word = super::pattern::not_whitespace();
    super::pattern::padded(&format!("(?:{word}*@{word}*)?"))
}

/// An optional email address: at most [`MAX_EMAIL`] characters, with an `@`
/// and no whitespace inside; kept trimmed, and blank means none.
pub fn parse_email(s: Option<&str>) -> Result<Option<&str>, String> {
    let Some(raw) = s else { return Ok(None) };
    if raw.chars().count() > MAX_EMAIL {
        return Err(format!("must be at most {MAX_EMAIL} characters"));
    }
    let e = raw.trim();
    if e.is_empty() {
        return Ok(None);
    }
    if !e.contains('@') || e.chars().any(char::is_whitespace) {
        return Err("is not an address".into());
    }
    Ok(Some(e))
}

/// A free-text name or title: at most `max` characters, none of them a
/// control character, not blank; kept trimmed. (Length and characters are
/// those of the text as given, so that the API document can state them.)
pub fn parse_text(s: &str, max: usize) -> Result<String, NameError> {
    if s.chars().count() > max {
        return Err(NameError::TooLong(max));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(NameError::BadChar(c, "printable characters"));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    Ok(s.to_owned())
}

/// A calendar date, exactly `YYYY-MM-DD` (RFC 3339's full-date), validated.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10 && s.as_bytes()[0].is_ascii_digit())
        .ok_or_else(|| format!("`{s}` is not a date (expected YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_nest_downward_only() {
        assert!(OrgKind::Government.may_sit_under(None));
        assert!(!OrgKind::Ministry.may_sit_under(None));
        assert!(OrgKind::Ministry.may_sit_under(Some(OrgKind::Government)));
        assert!(OrgKind::Division.may_sit_under(Some(OrgKind::Government)));
        assert!(OrgKind::AttachedDepartment.may_sit_under(Some(OrgKind::Ministry)));
        assert!(OrgKind::Section.may_sit_under(Some(OrgKind::Wing)));
        assert!(!OrgKind::Ministry.may_sit_under(Some(OrgKind::Section)));
        assert!(!OrgKind::Regulator.may_sit_under(Some(OrgKind::Soe)));
        assert!(!OrgKind::Government.may_sit_under(Some(OrgKind::Government)));
    }

    #[test]
    fn entities_are_the_reporting_units() {
        let entities: Vec<_> = OrgKind::ALL.iter().filter(|k| k.is_entity()).collect();
        assert_eq!(
            entities,
            [&OrgKind::Ministry, &OrgKind::Division, &OrgKind::AttachedDepartment, &OrgKind::Soe, &OrgKind::Regulator]
        );
    }

    #[test]
    fn clearances_are_ordered() {
        assert!(Clearance::Unclassified < Clearance::Restricted);
        assert!(Clearance::Secret < Clearance::TopSecret);
        assert_eq!("top_secret".parse::<Clearance>().unwrap(), Clearance::TopSecret);
        let err = "cosmic".parse::<Clearance>().unwrap_err();
        assert!(err.to_string().contains("restricted"), "{err}");
    }

    #[test]
    fn codes_and_usernames_are_checked() {
        assert_eq!(Code::parse(" IT(Admin) ").unwrap().as_str(), "IT(Admin)");
        assert_eq!(Code::parse(""), Err(NameError::Empty));
        assert!(matches!(Code::parse("A B"), Err(NameError::BadChar(' ', _))));
        assert_eq!(Username::parse("SO.MoITT").unwrap().as_str(), "so.moitt");
        assert!(Username::parse("so moitt").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn text_and_dates() {
        assert_eq!(parse_text("  Section Officer ", 10), Err(NameError::TooLong(10)));
        assert_eq!(parse_text(" Director ", 10).unwrap(), "Director");
        assert!(parse_text("a\u{0}b", 10).is_err());
        assert!(parse_text("\tDirector", 10).is_err(), "a control character, even at the edge");
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-11-24").is_ok());
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        // Eleven Urdu letters are 22 bytes but still too short; twelve pass.
        assert!(check_new_password(&"ب".repeat(11)).is_err());
        assert!(check_new_password(&"ب".repeat(12)).is_ok());
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(257)).is_err());
        assert!(check_new_password(&"ب".repeat(256)).is_ok());
    }
}

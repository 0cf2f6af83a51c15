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

    /// Parses a code: 1–40 ASCII letters, digits or `()-_.&/`.
    pub fn parse(s: &str) -> Result<Code, NameError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.chars().count() > 40 {
            return Err(NameError::TooLong(40));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || "()-_.&/".contains(*c))) {
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
/// Most bytes in a password (argon2 takes any length; requests should not).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password, the one rule for every way a password is set (the
/// API, `daftar user`, org-chart import): at least [`MIN_PASSWORD_CHARS`]
/// characters (not bytes: an Urdu password counts its letters), at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_new_password(pw: &str) -> Result<(), String> {
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if pw.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

/// A login name: lower-case letters, digits, `.`, `_`, `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    const ALLOWED: &'static str = "lower-case letters, digits and . _ -";

    /// Parses a username; upper case is folded so logins are case-insensitive.
    pub fn parse(s: &str) -> Result<Username, NameError> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > 64 {
            return Err(NameError::TooLong(64));
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

/// A free-text name or title: trimmed, non-empty, at most `max` characters.
pub fn parse_text(s: &str, max: usize) -> Result<String, NameError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.chars().count() > max {
        return Err(NameError::TooLong(max));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(NameError::BadChar(c, "printable characters"));
    }
    Ok(s.to_owned())
}

/// A calendar date `YYYY-MM-DD`, validated.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date (expected YYYY-MM-DD)"))
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
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-11-24").is_ok());
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        // Eleven Urdu letters are 22 bytes but still too short; twelve pass.
        assert!(check_new_password(&"ب".repeat(11)).is_err());
        assert!(check_new_password(&"ب".repeat(12)).is_ok());
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(1025)).is_err());
    }
}

//! The e-file's rules: file numbers, priorities, and what each movement does.
//! Pure functions over plain state; the application layer loads the state,
//! asks here, and writes the answer in one transaction.

use super::vocabulary;

vocabulary! {
    /// How urgent a file is; ordered, `MostImmediate` highest.
    Priority ("priority") {
        Routine => "routine",
        Priority => "priority",
        Immediate => "immediate",
        MostImmediate => "most_immediate",
    }
}

vocabulary! {
    /// Where a file stands.
    FileStatus ("file status") {
        Open => "open",
        Parked => "parked",
        Closed => "closed",
    }
}

vocabulary! {
    /// One step of a file or receipt (SPEC section 3).
    Action ("action") {
        Create => "create",
        Forward => "forward",
        Return => "return",
        Approve => "approve",
        Refer => "refer",
        Recall => "recall",
        Park => "park",
        Unpark => "unpark",
        Close => "close",
        Reopen => "reopen",
        PutUp => "put_up",
        Escalate => "escalate",
    }
}

vocabulary! {
    /// How two files relate.
    LinkKind ("link kind") {
        Reference => "reference",
        PartFile => "part_file",
        MergedInto => "merged_into",
    }
}

vocabulary! {
    /// How a letter arrived.
    ReceiptMode ("receipt mode") {
        Post => "post",
        Email => "email",
        Hand => "hand",
        Fax => "fax",
        Courier => "courier",
    }
}

vocabulary! {
    /// What a correspondence document is.
    DocumentKind ("document kind") {
        Receipt => "receipt",
        Enclosure => "enclosure",
        Dfa => "dfa",
        IssuedLetter => "issued_letter",
        Scan => "scan",
    }
}

/// The Secretariat file number: `No. {head}-{serial}/{year}-{section}`.
pub fn file_no(head: &str, serial: i64, year: i32, section_code: &str) -> String {
    format!("No. {head}-{serial}/{year}-{section_code}")
}

/// A receipt's diary number: `{entity}/R/{year}/{serial:05}`.
pub fn diary_no(entity_code: &str, serial: i64, year: i32) -> String {
    format!("{entity_code}/R/{year}/{serial:05}")
}

/// Most characters in a subject head.
const MAX_HEAD: usize = 12;

/// What [`parse_head`] accepts, as a regular expression.
pub fn head_pattern() -> String {
    super::pattern::padded(&format!(r"[A-Za-z0-9.()]{{1,{MAX_HEAD}}}"))
}

/// Checks a subject-head code (the `7` of `No. 7-12/2026-IT(Admin)`).
pub fn parse_head(head: &str) -> Result<String, String> {
    let h = head.trim();
    if h.is_empty()
        || h.len() > MAX_HEAD
        || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '(' || c == ')')
    {
        return Err("must be 1–12 letters, digits, `.` or parentheses".into());
    }
    Ok(h.to_owned())
}

/// What the rules need to know about a file (or receipt) to move it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveState {
    /// Open, parked or closed.
    pub status: FileStatus,
    /// The post that holds it.
    pub holder_post: String,
    /// Whether the acting post is in the file's owning section.
    pub mover_in_owning_section: bool,
    /// The movement that brought it to its holder, if any.
    pub last: Option<LastMove>,
    /// Where a `refer` must come back to.
    pub referred_by: Option<String>,
    /// Whether the file is on a workflow.
    pub on_workflow: bool,
}

/// The movement that brought a file to its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastMove {
    /// Who sent it.
    pub from_post: String,
    /// Whether the receiver has opened it.
    pub opened: bool,
}

/// What a movement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The post that holds the file afterwards.
    pub holder_post: String,
    /// The status afterwards.
    pub status: FileStatus,
    /// Where a refer must come back to, afterwards.
    pub referred_by: Option<String>,
    /// The movement's recorded destination (None for status changes).
    pub to_post: Option<String>,
}

/// Why a movement cannot happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveError {
    /// The acting post does not hold the file.
    NotHolder,
    /// The file is not in a state for this action (message says why).
    Conflict(String),
    /// The request lacks something (field, message).
    Invalid(&'static str, String),
}

/// Decides what `action` by `mover` (the acting post) does to a file in
/// `state`. `to_post` is the mover's destination for forward and refer, and
/// the routing engine's for approve and for a return by a step's decider.
pub fn plan_move(
    state: &MoveState,
    action: Action,
    mover: &str,
    to_post: Option<&str>,
) -> Result<Transition, MoveError> {
    let holder = state.holder_post == mover;
    let stay = |status: FileStatus| Transition {
        holder_post: state.holder_post.clone(),
        status,
        referred_by: state.referred_by.clone(),
        to_post: None,
    };
    let need_open = || {
        if state.status == FileStatus::Open {
            Ok(())
        } else {
            Err(MoveError::Conflict(format!("the file is {}; only an open file moves", state.status)))
        }
    };
    let destination = |to: Option<&str>| -> Result<String, MoveError> {
        match to {
            None => Err(MoveError::Invalid("to_post_id", "is required for this action".into())),
            Some(t) if t == mover => Err(MoveError::Conflict("to_post_id: is your own post".into())),
            Some(t) => Ok(t.to_owned()),
        }
    };
    match action {
        Action::Forward | Action::Refer => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            need_open()?;
            let to = destination(to_post)?;
            let referred_by = if action == Action::Refer { Some(mover.to_owned()) } else { state.referred_by.clone() };
            Ok(Transition { holder_post: to.clone(), status: FileStatus::Open, referred_by, to_post: Some(to) })
        }
        Action::Return => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            need_open()?;
            // Where the workflow sends a return by the post a step waits on
            // (`to_post`); otherwise a referred file goes back to whoever
            // referred it, any other to the post it came from.
            let back = to_post
                .map(str::to_owned)
                .or_else(|| state.referred_by.clone().filter(|r| r != mover))
                .or_else(|| state.last.as_ref().map(|l| l.from_post.clone()))
                .ok_or_else(|| MoveError::Conflict("the file has not come from anywhere to return to".into()))?;
            Ok(Transition {
                holder_post: back.clone(),
                status: FileStatus::Open,
                referred_by: None,
                to_post: Some(back),
            })
        }
        Action::Recall => {
            let last = state.last.as_ref().filter(|l| l.from_post == mover).ok_or_else(|| {
                MoveError::Conflict("only the sender of the last movement can recall the file".into())
            })?;
            need_open()?;
            if last.opened {
                return Err(MoveError::Conflict(
                    "the receiver has already opened the file; it cannot be recalled".into(),
                ));
            }
            Ok(Transition {
                holder_post: mover.to_owned(),
                status: FileStatus::Open,
                referred_by: state.referred_by.clone().filter(|r| r != mover),
                to_post: Some(mover.to_owned()),
            })
        }
        Action::Park => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            need_open()?;
            Ok(stay(FileStatus::Parked))
        }
        Action::Unpark => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            if state.status != FileStatus::Parked {
                return Err(MoveError::Conflict("the file is not parked".into()));
            }
            Ok(stay(FileStatus::Open))
        }
        Action::Close => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            if state.status == FileStatus::Closed {
                return Err(MoveError::Conflict("the file is already closed".into()));
            }
            if !state.mover_in_owning_section {
                return Err(MoveError::Conflict("only the section that owns the file can close it".into()));
            }
            Ok(stay(FileStatus::Closed))
        }
        Action::Reopen => {
            if state.status != FileStatus::Closed {
                return Err(MoveError::Conflict("the file is not closed".into()));
            }
            if !state.mover_in_owning_section {
                return Err(MoveError::Conflict("only the section that owns the file can reopen it".into()));
            }
            Ok(Transition {
                holder_post: mover.to_owned(),
                status: FileStatus::Open,
                referred_by: None,
                to_post: Some(mover.to_owned()),
            })
        }
        Action::Approve => {
            if !holder {
                return Err(MoveError::NotHolder);
            }
            if !state.on_workflow {
                return Err(MoveError::Conflict("the file is not on a workflow; forward it instead".into()));
            }
            need_open()?;
            // `to_post`: where the routing engine sends the approval (it may
            // stay with the mover, when they decide the next step too).
            let to = to_post.ok_or_else(|| MoveError::Conflict("the workflow names no next post".into()))?;
            Ok(Transition {
                holder_post: to.to_owned(),
                status: FileStatus::Open,
                referred_by: state.referred_by.clone(),
                to_post: Some(to.to_owned()),
            })
        }
        Action::Escalate => {
            Err(MoveError::Invalid("action", "files are escalated by the SLA clock, not by hand".into()))
        }
        Action::Create | Action::PutUp => {
            Err(MoveError::Invalid("action", format!("`{action}` is not a movement of a file")))
        }
    }
}

/// Orders inbox entries: most urgent first, then overdue, then oldest.
pub fn inbox_order(a: (Priority, bool, i64), b: (Priority, bool, i64)) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(holder: &str) -> MoveState {
        MoveState {
            status: FileStatus::Open,
            holder_post: holder.into(),
            mover_in_owning_section: true,
            last: None,
            referred_by: None,
            on_workflow: false,
        }
    }

    #[test]
    fn numbers_follow_the_secretariat_style() {
        assert_eq!(file_no("7", 12, 2026, "IT(Admin)"), "No. 7-12/2026-IT(Admin)");
        assert_eq!(diary_no("MOITT", 42, 2026), "MOITT/R/2026/00042");
        assert!(parse_head("7").is_ok());
        assert!(parse_head("7 8").is_err());
    }

    #[test]
    fn only_the_holder_forwards_and_not_to_itself() {
        let s = state("SO");
        let t = plan_move(&s, Action::Forward, "SO", Some("DS")).unwrap();
        assert_eq!((t.holder_post.as_str(), t.to_post.as_deref()), ("DS", Some("DS")));
        assert_eq!(plan_move(&s, Action::Forward, "DS", Some("JS")), Err(MoveError::NotHolder));
        assert!(matches!(plan_move(&s, Action::Forward, "SO", Some("SO")), Err(MoveError::Conflict(..))));
        assert!(matches!(plan_move(&s, Action::Forward, "SO", None), Err(MoveError::Invalid(..))));
    }

    #[test]
    fn return_goes_back_where_it_came_from_or_to_the_referrer() {
        let mut s = state("JS");
        s.last = Some(LastMove { from_post: "DS".into(), opened: true });
        assert_eq!(plan_move(&s, Action::Return, "JS", None).unwrap().holder_post, "DS");
        // SO refers to FIN, which returns: back to SO, and the referral is over.
        let s = state("SO");
        let t = plan_move(&s, Action::Refer, "SO", Some("FIN")).unwrap();
        let at_fin = MoveState {
            holder_post: t.holder_post,
            referred_by: t.referred_by,
            last: Some(LastMove { from_post: "SO".into(), opened: true }),
            ..state("x")
        };
        let mut at_fin2 = at_fin.clone();
        at_fin2.last = Some(LastMove { from_post: "FIN-DS".into(), opened: true });
        let back = plan_move(&at_fin2, Action::Return, "FIN", None).unwrap();
        assert_eq!(back.holder_post, "SO");
        assert_eq!(back.referred_by, None);
        assert!(matches!(plan_move(&state("SO"), Action::Return, "SO", None), Err(MoveError::Conflict(_))));
    }

    #[test]
    fn recall_only_by_the_sender_before_it_is_opened() {
        let mut s = state("DS");
        s.last = Some(LastMove { from_post: "SO".into(), opened: false });
        assert_eq!(plan_move(&s, Action::Recall, "SO", None).unwrap().holder_post, "SO");
        assert!(matches!(plan_move(&s, Action::Recall, "JS", None), Err(MoveError::Conflict(_))));
        s.last = Some(LastMove { from_post: "SO".into(), opened: true });
        assert!(matches!(plan_move(&s, Action::Recall, "SO", None), Err(MoveError::Conflict(_))));
    }

    #[test]
    fn park_close_reopen() {
        let s = state("SO");
        let parked = plan_move(&s, Action::Park, "SO", None).unwrap();
        assert_eq!(parked.status, FileStatus::Parked);
        let p = MoveState { status: FileStatus::Parked, ..state("SO") };
        assert!(matches!(plan_move(&p, Action::Forward, "SO", Some("DS")), Err(MoveError::Conflict(_))));
        assert_eq!(plan_move(&p, Action::Unpark, "SO", None).unwrap().status, FileStatus::Open);
        assert_eq!(plan_move(&s, Action::Close, "SO", None).unwrap().status, FileStatus::Closed);
        let outsider = MoveState { mover_in_owning_section: false, ..state("FIN") };
        assert!(matches!(plan_move(&outsider, Action::Close, "FIN", None), Err(MoveError::Conflict(_))));
        let closed = MoveState { status: FileStatus::Closed, ..state("SO") };
        let t = plan_move(&closed, Action::Reopen, "SO2", None).unwrap();
        assert_eq!((t.status, t.holder_post.as_str()), (FileStatus::Open, "SO2"));
    }

    #[test]
    fn urgent_first_then_overdue_then_oldest() {
        let mut v = [
            (Priority::Routine, false, 1),
            (Priority::MostImmediate, false, 5),
            (Priority::Routine, true, 9),
            (Priority::Routine, false, 0),
        ];
        v.sort_by(|a, b| inbox_order(*a, *b));
        assert_eq!(v[0].0, Priority::MostImmediate);
        assert_eq!(v[1], (Priority::Routine, true, 9));
        assert_eq!(v[2], (Priority::Routine, false, 0));
    }
}

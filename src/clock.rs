//! Government time. Instants are stored as UTC microseconds; dates that people
//! read and count by (the year in a file or diary number, the first and last
//! day of a posting, "today") are dates of the deployment's civil time zone:
//! Pakistan Standard Time, UTC+05:00 with no daylight saving, unless the
//! `utc_offset` setting says otherwise.

use std::sync::atomic::{AtomicI32, Ordering};

use chrono::{Datelike, FixedOffset, NaiveDate};

use crate::domain::workflow::Calendar;

/// Pakistan Standard Time, in seconds east of UTC.
pub const PKT: &str = "+05:00";
const PKT_SECS: i32 = 5 * 3600;

static OFFSET_SECS: AtomicI32 = AtomicI32::new(PKT_SECS);

static CALENDAR: std::sync::RwLock<Option<std::sync::Arc<Calendar>>> = std::sync::RwLock::new(None);

/// Sets the working week and holidays approval SLAs count in (from
/// configuration, at start).
pub fn set_calendar(calendar: Calendar) {
    *CALENDAR.write().unwrap_or_else(|p| p.into_inner()) = Some(std::sync::Arc::new(calendar));
}

/// The working week and holidays in effect (Monday to Friday, no holidays,
/// in the deployment's time zone, until configured).
pub fn calendar() -> std::sync::Arc<Calendar> {
    if let Some(c) = CALENDAR.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return c.clone();
    }
    std::sync::Arc::new(Calendar { offset_secs: OFFSET_SECS.load(Ordering::Relaxed), ..Calendar::default() })
}

/// Parses `+HH:MM` / `-HH:MM` (or `Z`) into seconds east of UTC.
pub fn parse_offset(s: &str) -> Result<i32, String> {
    let bad = || format!("`{s}` is not a UTC offset like +05:00");
    if s == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Sets the deployment's offset (from configuration, at start).
pub fn set_offset(seconds_east: i32) {
    OFFSET_SECS.store(seconds_east, Ordering::Relaxed);
}

fn offset() -> FixedOffset {
    FixedOffset::east_opt(OFFSET_SECS.load(Ordering::Relaxed)).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap())
}

/// The civil date at an instant (UTC microseconds).
pub fn date_at(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default().with_timezone(&offset()).date_naive()
}

/// An instant as people read it on a page: `YYYY-MM-DD HH:MM` in civil time.
pub fn civil_minute(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .with_timezone(&offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The civil year at an instant.
pub fn year_at(micros: i64) -> i32 {
    date_at(micros).year()
}

/// Today's civil date.
pub fn today() -> NaiveDate {
    date_at(crate::store::now_micros())
}

/// The instant (UTC microseconds) a civil date begins.
pub fn day_start(date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    midnight.and_utc().timestamp_micros() - i64::from(OFFSET_SECS.load(Ordering::Relaxed)) * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_and_refuse_nonsense() {
        assert_eq!(parse_offset(PKT), Ok(PKT_SECS));
        assert_eq!(parse_offset("-03:30"), Ok(-(3 * 3600 + 1800)));
        assert_eq!(parse_offset("Z"), Ok(0));
        for bad in ["05:00", "+5:00", "+05", "+25:00", "+05:60", "PKT", ""] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pakistan_dates_turn_at_pakistan_midnight() {
        // 2026-12-31 19:30 UTC is 2027-01-01 00:30 in Islamabad: a new year's file.
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
            .unwrap()
            .and_hms_opt(19, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        assert_eq!(year_at(t), 2027);
        let new_year = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(date_at(t), new_year);
        // That day began at 19:00 UTC the evening before.
        assert_eq!(day_start(new_year), t - 30 * 60 * 1_000_000);
    }
}

//! Presentation helpers with no DOM: numbers, times, durations, YAML line marks.

/// `"2026-11-21T10:04:05.123Z"` → `"2026-11-21 10:04:05 UTC"`; anything else unchanged.
pub fn timestamp(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.as_bytes().get(10) == Some(&b'T') => {
            format!("{date} {time} UTC")
        }
        _ => rfc3339.to_owned(),
    }
}

/// An optional timestamp, or an em dash.
pub fn maybe_timestamp(value: Option<&str>) -> String {
    value.map(timestamp).unwrap_or_else(|| "—".to_owned())
}

/// A progress percentage clamped to 0–100, rounded for display (`"42%"`).
pub fn percent(value: f64) -> String {
    format!("{}%", whole_percent(value))
}

/// 0–100 as a whole number. (Integers only: formatting floats adds ~20 KB to the wasm.)
pub fn whole_percent(value: f64) -> u16 {
    (tenths(value) + 5) / 10
}

/// A percentage clamped to 0–100 in `per`-ths of a percent, rounded (NaN is 0).
fn fraction(value: f64, per: f64) -> u32 {
    if value.is_nan() {
        0
    } else {
        (value.clamp(0.0, 100.0) * per).round() as u32
    }
}

/// Tenths of a percent, 0–1000.
fn tenths(value: f64) -> u16 {
    fraction(value, 10.0) as u16
}

/// A CSS width for a progress bar, to a tenth of a percent (`"width: 41.6%"`).
pub fn width(value: f64) -> String {
    let t = tenths(value);
    format!("width: {}.{}%", t / 10, t % 10)
}

/// A CSS percentage to a hundredth, clamped to 0–100 (`"41.62%"`).
pub fn css_percent(value: f64) -> String {
    let h = fraction(value, 100.0);
    format!("{}.{:02}%", h / 100, h % 100)
}

/// Seconds between two RFC 3339 UTC timestamps, as `"1 min 5 s"`.
pub fn duration(start: &str, end: &str) -> Option<String> {
    let secs = seconds_of_day_and_days(end)? - seconds_of_day_and_days(start)?;
    if secs < 0 {
        return None;
    }
    Some(if secs >= 3600 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{secs} s")
    })
}

/// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SS…Z` (civil-from-days, UTC only).
fn seconds_of_day_and_days(ts: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Lines of a textarea's text, split as the browser shows them, numbered from 1.
pub fn line_count(text: &str) -> usize {
    text.split('\n').count().max(1)
}

/// A one-line description of an error position: `"line 3, column 5"`.
pub fn position(line: Option<u64>, column: Option<u64>) -> Option<String> {
    match (line, column) {
        (Some(l), Some(c)) => Some(format!("line {l}, column {c}")),
        (Some(l), None) => Some(format!("line {l}")),
        _ => None,
    }
}

/// Splits a list typed one per line (or comma separated) into trimmed, non-empty entries.
pub fn list_entries(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_readable_and_leaves_other_text_alone() {
        assert_eq!(
            timestamp("2026-11-21T10:04:05.123Z"),
            "2026-11-21 10:04:05 UTC"
        );
        assert_eq!(timestamp("soon"), "soon");
        assert_eq!(maybe_timestamp(None), "—");
    }

    #[test]
    fn percent_clamps_and_rounds() {
        assert_eq!(percent(41.6), "42%");
        assert_eq!(percent(140.0), "100%");
        assert_eq!(percent(-3.0), "0%");
        assert_eq!(percent(f64::NAN), "0%");
        assert_eq!(css_percent(41.625), "41.63%");
        assert_eq!(css_percent(0.8), "0.80%");
        assert_eq!(css_percent(250.0), "100.00%");
        assert_eq!(percent(41.4), "41%");
        assert_eq!(percent(41.5), "42%");
        assert_eq!(percent(99.96), "100%");
        assert_eq!(width(41.64), "width: 41.6%");
        assert_eq!(width(250.0), "width: 100.0%");
    }

    #[test]
    fn duration_spans_midnight_and_months() {
        assert_eq!(
            duration("2026-11-21T10:00:00Z", "2026-11-21T10:01:05Z").as_deref(),
            Some("1 min 5 s")
        );
        assert_eq!(
            duration("2026-02-28T23:59:58Z", "2026-03-01T00:00:03Z").as_deref(),
            Some("5 s")
        );
        assert_eq!(
            duration("2026-11-21T10:00:00Z", "2026-11-21T12:30:00Z").as_deref(),
            Some("2 h 30 min")
        );
        assert_eq!(
            duration("2026-11-21T10:00:00Z", "2026-11-21T09:00:00Z"),
            None
        );
        assert_eq!(duration("bad", "2026-11-21T09:00:00Z"), None);
    }

    #[test]
    fn lines_positions_and_lists() {
        assert_eq!(line_count(""), 1);
        assert_eq!(line_count("a\nb\n"), 3);
        assert_eq!(
            position(Some(3), Some(5)).as_deref(),
            Some("line 3, column 5")
        );
        assert_eq!(position(None, Some(5)), None);
        assert_eq!(
            list_entries(" 127.0.0.0/8\n\n::1/128, 192.0.2.0/24 "),
            vec!["127.0.0.0/8", "::1/128", "192.0.2.0/24"]
        );
    }
}

//! Keyset pagination over integer ids (newest first) with opaque Relay cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::AppError;

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

/// What a caller asked for: `first` rows after the cursor `after`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest {
    pub first: u64,
    /// The id of the last row the caller has seen (decoded from the `after` cursor); the
    /// listing continues past it in its own order.
    pub after_id: Option<i32>,
}

impl PageRequest {
    pub fn parse(first: Option<i32>, after: Option<&str>) -> Result<Self, AppError> {
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if n < 0 => return Err(AppError::validation("`first` must not be negative")),
            Some(n) if n as u64 > MAX_PAGE => {
                return Err(AppError::validation(format!(
                    "`first` may be at most {MAX_PAGE}"
                )));
            }
            Some(n) => n as u64,
        };
        let after_id = after.map(decode_cursor).transpose()?;
        Ok(Self { first, after_id })
    }
}

/// One page of rows plus what a Relay connection needs.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub total_count: u64,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `LIMIT first + 1`: the extra row only says that
    /// there is a next page.
    pub fn from_rows(mut rows: Vec<T>, first: u64, total_count: u64) -> Self {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Self {
            items: rows,
            has_next_page,
            total_count,
        }
    }
}

pub fn encode_cursor(id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<i32, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("id:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| AppError::validation("invalid cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).expect("cursor"), 42);
        assert_eq!(decode_cursor("zzz").expect_err("bad").code(), "VALIDATION");
    }

    #[test]
    fn page_request_bounds_first() {
        assert_eq!(PageRequest::parse(None, None).expect("default").first, 20);
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert!(PageRequest::parse(Some(-1), None).is_err());
    }
}

//! A `BufRead` adapter that stops the input at `max_bytes`, so no single event, however large,
//! can make the XML reader buffer more than the limit.

use std::io::{self, BufRead, Read};

/// Passes through at most `remaining` bytes of `inner`; asking for more while `inner` still has
/// data fails with an I/O error and sets `exceeded`.
#[derive(Debug)]
pub(crate) struct CappedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R> CappedReader<R> {
    pub(crate) fn new(inner: R, max_bytes: u64) -> Self {
        Self {
            inner,
            remaining: max_bytes,
            exceeded: false,
        }
    }

    /// Whether reading stopped because the input is longer than the cap.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: BufRead> BufRead for CappedReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let available = self.inner.fill_buf()?;
        if self.remaining == 0 {
            if available.is_empty() {
                return Ok(available);
            }
            self.exceeded = true;
            return Err(io::Error::other("input exceeds the size limit"));
        }
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(available.len());
        Ok(&available[..n])
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.remaining = self.remaining.saturating_sub(amt as u64);
    }
}

impl<R: BufRead> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_reader_passes_input_when_within_cap() {
        let mut r = CappedReader::new(&b"hello"[..], 5);
        let mut out = String::new();
        r.read_to_string(&mut out).expect("read");
        assert_eq!(out, "hello");
        assert!(!r.exceeded());
    }

    #[test]
    fn capped_reader_fails_when_input_exceeds_cap() {
        let mut r = CappedReader::new(&b"hello!"[..], 5);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).expect_err("over the cap");
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(r.exceeded());
        assert_eq!(out, b"hello");
    }
}

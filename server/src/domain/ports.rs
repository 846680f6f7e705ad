//! Port lists such as `1-1024,8080,8443`: parsed, validated (1–65535) and normalised.

use std::fmt;

/// A validated, sorted, merged list of inclusive port ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList(Vec<(u16, u16)>);

impl PortList {
    /// Parses `80`, `1-1024`, `22,80,443-445` (spaces allowed around commas).
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("port list is empty".into());
        }
        let mut ranges = Vec::new();
        for item in input.split(',') {
            let item = item.trim();
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => (parse_port(a, item)?, parse_port(b, item)?),
                None => {
                    let p = parse_port(item, item)?;
                    (p, p)
                }
            };
            if lo > hi {
                return Err(format!("port range {item:?} runs backwards"));
            }
            ranges.push((lo, hi));
        }
        Ok(Self::normalised(ranges))
    }

    /// Sorted, with overlapping and adjacent ranges merged.
    fn normalised(mut ranges: Vec<(u16, u16)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Self(merged)
    }

    /// The ports of both lists.
    pub fn union(&self, other: &PortList) -> PortList {
        Self::normalised(self.0.iter().chain(&other.0).copied().collect())
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// Number of ports in the list.
    pub fn len(&self) -> usize {
        self.0
            .iter()
            .map(|(a, b)| usize::from(*b) - usize::from(*a) + 1)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks one port number (from a YAML integer).
pub fn check_port(value: i64) -> Result<u16, String> {
    if (1..=65535).contains(&value) {
        Ok(value as u16)
    } else {
        Err(format!("port {value} is out of range (1-65535)"))
    }
}

fn parse_port(text: &str, item: &str) -> Result<u16, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{item:?} is not a port or a port range"));
    }
    let value: i64 = text
        .parse()
        .map_err(|_| format!("port {text} is out of range (1-65535)"))?;
    check_port(value)
}

impl fmt::Display for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_and_merges_ranges() {
        let p = PortList::parse(" 8080, 1-1024 ,443,1025").expect("valid");
        assert_eq!(p.to_string(), "1-1025,8080");
        assert_eq!(p.len(), 1026);
    }

    #[test]
    fn parse_rejects_bad_ports() {
        for bad in [
            "0", "65536", "70000", "1-", "-5", "a", "1-2-3", "", "5-1", "T:80", "80;ls",
        ] {
            assert!(PortList::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn check_port_accepts_bounds_only() {
        assert_eq!(check_port(1), Ok(1));
        assert_eq!(check_port(65535), Ok(65535));
        assert!(check_port(0).is_err());
        assert!(check_port(70000).is_err());
    }
}

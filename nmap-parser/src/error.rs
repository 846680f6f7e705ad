//! The one error type of the crate.
//!
//! Positions are byte offsets from the start of the input (the start of the XML construct that
//! failed, where it is known), so an operator can find the spot with `head -c` or a hex viewer.

use std::io;
use std::sync::Arc;

/// Why a document could not be (fully) parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input holds no XML at all: zero bytes, or only whitespace.
    #[error("input is empty: expected an nmap XML document")]
    Empty,

    /// The input is XML (or text) but not an nmap/masscan run: the root element is not
    /// `<nmaprun>`, or there is text before it.
    #[error("not an nmap XML document: found {found} at byte {position}, expected <nmaprun>")]
    NotNmap {
        /// What was found instead, e.g. `` `<html>` `` or `text`.
        found: String,
        /// Where it was found.
        position: u64,
    },

    /// A construct refused for safety: a DOCTYPE other than nmap's, an internal DTD subset,
    /// entity declarations or references to entities other than XML's five predefined ones.
    #[error("forbidden XML at byte {position}: {reason}")]
    Forbidden {
        /// What was refused.
        reason: String,
        /// Where.
        position: u64,
    },

    /// The input is longer than [`crate::Limits::max_bytes`].
    #[error("input exceeds the size limit of {max_bytes} bytes")]
    TooLarge {
        /// The limit that was hit.
        max_bytes: u64,
    },

    /// Another limit of [`crate::Limits`] was hit.
    #[error("{what} exceeds the limit of {max} at byte {position}")]
    LimitExceeded {
        /// Which limit, e.g. `"element nesting depth"`.
        what: &'static str,
        /// The limit.
        max: u64,
        /// Where it was hit.
        position: u64,
    },

    /// The input ends before `</nmaprun>`: the scan was interrupted or the file cut short.
    /// Every host completed before this point has already been reported.
    #[error("input ends at byte {position} before the nmap document is complete")]
    Truncated {
        /// Where the input ended.
        position: u64,
    },

    /// A required attribute is missing.
    #[error("missing attribute `{attribute}` on <{element}> at byte {position}")]
    MissingAttribute {
        /// Element name.
        element: &'static str,
        /// Attribute name.
        attribute: &'static str,
        /// Where the element starts.
        position: u64,
    },

    /// An attribute has a value of the wrong form (e.g. a port number that is not a number).
    #[error("invalid value {value:?} for `{attribute}` on <{element}> at byte {position}")]
    InvalidValue {
        /// Element name.
        element: &'static str,
        /// Attribute name.
        attribute: &'static str,
        /// The offending value (cut to 64 characters).
        value: String,
        /// Where the element starts.
        position: u64,
    },

    /// The input is not well-formed XML.
    #[error("malformed XML at byte {position}: {message}")]
    Xml {
        /// What the XML reader reported.
        message: String,
        /// Where.
        position: u64,
    },

    /// Reading the input failed.
    #[error("reading input failed at byte {position}: {source}")]
    Io {
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
        /// How far reading got.
        position: u64,
    },
}

impl ParseError {
    /// The byte offset the error refers to, when there is one.
    pub fn position(&self) -> Option<u64> {
        match self {
            Self::Empty | Self::TooLarge { .. } => None,
            Self::NotNmap { position, .. }
            | Self::Forbidden { position, .. }
            | Self::LimitExceeded { position, .. }
            | Self::Truncated { position }
            | Self::MissingAttribute { position, .. }
            | Self::InvalidValue { position, .. }
            | Self::Xml { position, .. }
            | Self::Io { position, .. } => Some(*position),
        }
    }

    /// Whether the error means the document was cut short (interrupted scan, partial upload),
    /// as opposed to being malformed or refused.
    pub fn is_truncation(&self) -> bool {
        matches!(self, Self::Truncated { .. })
    }
}

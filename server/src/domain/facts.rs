//! What a scan observed, typed: port states, protocols, host statuses and TLS cipher grades.
//! The database keeps them as text (nmap's own words); `as_str` / `parse` are the one mapping
//! between the two.

/// Defines a text-backed enum: variants with their stored text, `ALL`, `as_str` and `parse`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and nmap's) text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant of a stored text; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// A port's state as nmap reports it, or `missing`: declared open in the config, not seen
    /// open by the scan.
    PortState {
        Open => "open",
        Closed => "closed",
        Filtered => "filtered",
        Unfiltered => "unfiltered",
        OpenFiltered => "open|filtered",
        ClosedFiltered => "closed|filtered",
        Missing => "missing",
    }
}

text_enum! {
    /// The transport a port belongs to.
    Protocol {
        Tcp => "tcp",
        Udp => "udp",
        Sctp => "sctp",
        Ip => "ip",
    }
}

text_enum! {
    /// Whether a host answered: `unknown` when no discovery ran (e.g. `-Pn`) or it was not
    /// reached.
    HostStatus {
        Up => "up",
        Down => "down",
        Unknown => "unknown",
    }
}

text_enum! {
    /// nmap `ssl-enum-ciphers`' least strength of a TLS version's ciphers (A best, F worst).
    TlsGrade {
        A => "A",
        B => "B",
        C => "C",
        D => "D",
        E => "E",
        F => "F",
    }
}

impl TlsGrade {
    /// C and worse are weak.
    pub fn is_weak(self) -> bool {
        self >= TlsGrade::C
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_inverts_as_str_for_every_variant() {
        for s in PortState::ALL {
            assert_eq!(PortState::parse(s.as_str()), Some(*s));
        }
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(*p));
        }
        for h in HostStatus::ALL {
            assert_eq!(HostStatus::parse(h.as_str()), Some(*h));
        }
        for g in TlsGrade::ALL {
            assert_eq!(TlsGrade::parse(g.as_str()), Some(*g));
        }
        assert_eq!(
            PortState::parse("open|filtered"),
            Some(PortState::OpenFiltered)
        );
        assert_eq!(PortState::parse("OPEN"), None);
        assert!(TlsGrade::C.is_weak() && !TlsGrade::B.is_weak());
    }
}

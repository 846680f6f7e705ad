//! Resource limits that bound what a hostile or broken document can make the parser do.

/// Caps applied while parsing. The defaults fit real scans (a 10,000-host `-sV` run is about
/// 20 MB) with a wide margin; lower them for untrusted uploads if needed.
///
/// ```
/// let limits = nmap_parser::Limits { max_bytes: 64 * 1024 * 1024, ..Default::default() };
/// # let _ = limits;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of input bytes read. Beyond it: [`crate::ParseError::TooLarge`].
    pub max_bytes: u64,
    /// Maximum element nesting depth (nmap's own output nests about 10 deep).
    pub max_depth: usize,
    /// Maximum bytes of one script's `output` attribute; separately, of the text of all its
    /// `<elem>`s together; and of the text of any single element whose text is kept (`<cpe>`).
    pub max_script_output: usize,
    /// Maximum `<elem>` + `<table>` nodes in one script.
    pub max_script_elements: usize,
    /// Maximum elements inside one `<host>` (ports, scripts nodes, addresses, …). Bounds the
    /// memory a single host can take before it is handed out.
    pub max_host_elements: usize,
}

impl Limits {
    /// 512 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: 64,
            max_script_output: 16 * 1024 * 1024,
            max_script_elements: 100_000,
            max_host_elements: 4_000_000,
        }
    }
}

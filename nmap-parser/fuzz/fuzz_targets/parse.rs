//! Any bytes: the parser returns hosts and/or an error, never panics, never loops, never
//! allocates past its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = nmap_parser::Limits {
        max_bytes: 1 << 20,
        ..nmap_parser::Limits::default()
    };
    let (_run, _err) = nmap_parser::parse_lenient_with_limits(data, limits);
});

pub mod error_box;
pub mod header;

pub mod changes;
pub mod confirm;
pub mod error_box;
pub mod header;
pub mod pager;
pub mod scan_table;
pub mod status;
pub mod token_box;

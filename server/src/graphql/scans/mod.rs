//! GraphQL for scans: the types (`types`), the queries (`query`) and the mutations
//! (`mutation`); resolvers are thin callers of `service::scans`, `service::imports`,
//! `service::reports` and the job runner.

mod mutation;
mod query;
mod types;

pub use mutation::{ImportNmapXmlInput, ScanMutation, StartScanInput};
pub use query::{ScanFilter, ScanQuery};
pub use types::*;

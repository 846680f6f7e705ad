//! Business logic over `&DatabaseConnection`: role checks, validation, auditing. No GraphQL
//! types here; resolvers and CLI commands are thin callers of these functions.

pub mod agents;
pub mod alerts;
pub mod api_keys;
pub mod artifacts;
pub mod audit;
pub mod chunks;
pub mod completion;
pub mod configs;
pub mod exports;
pub mod history;
pub mod imports;
pub mod pagination;
pub mod reports;
pub mod results;
pub mod retention;
pub mod scans;
pub mod schedules;
pub mod sessions;
pub mod settings;
pub mod trends;
pub mod users;
pub mod views;
pub mod workers;

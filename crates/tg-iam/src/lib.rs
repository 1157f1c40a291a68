//! Tongguan identity and access engine.
//!
//! It owns the region hierarchy, departments, user accounts, roles and permission codes, login and
//! server-side sessions, the SM3-based password verifiers and the hash-chained audit trail. Every
//! operation takes the acting [`Principal`] and applies its [`tg_kernel::DataScope`] inside SQL.

pub mod audit;
pub mod auth;
pub mod crypto;
pub mod departments;
pub mod error;
pub mod import;
pub mod keys;
pub mod mfa;
pub mod net;
pub mod permissions;
pub mod ratelimit;
pub mod regions;
pub mod roles;
pub mod security;
pub mod service;
pub mod signing;
pub mod users;

pub use audit::{AuditCtx, AuditEvent};
pub use error::{IamError, IamResult};
pub use keys::{Keyring, Purpose};
pub use service::{Iam, Principal, RoleBrief, SecurityPolicy};

/// Schema migrations of this engine, one SQL text per database engine.
pub const MIGRATIONS: &[tg_db::Migration] = &[
    tg_db::Migration {
        component: "iam",
        version: 1,
        name: "iam",
        sqlite: include_str!("../migrations/sqlite/0001_iam.sql"),
        postgres: include_str!("../migrations/postgres/0001_iam.sql"),
    },
    tg_db::Migration {
        component: "iam",
        version: 2,
        name: "audit_append_only",
        sqlite: include_str!("../migrations/sqlite/0002_audit_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0002_audit_append_only.sql"),
    },
    tg_db::Migration {
        component: "iam",
        version: 3,
        name: "security",
        sqlite: include_str!("../migrations/sqlite/0003_security.sql"),
        postgres: include_str!("../migrations/postgres/0003_security.sql"),
    },
    tg_db::Migration {
        component: "iam",
        version: 4,
        name: "audit_retention",
        sqlite: include_str!("../migrations/sqlite/0004_audit_retention.sql"),
        postgres: include_str!("../migrations/postgres/0004_audit_retention.sql"),
    },
    tg_db::Migration {
        component: "iam",
        version: 5,
        name: "security_labels",
        sqlite: include_str!("../migrations/sqlite/0005_security_labels.sql"),
        postgres: include_str!("../migrations/postgres/0005_security_labels.sql"),
    },
];

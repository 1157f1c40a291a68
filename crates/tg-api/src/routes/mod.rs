//! One module per context, each with a `router()` of OpenAPI-documented handlers.

pub mod audit;
pub mod auth;
pub mod departments;
pub mod import;
pub mod ind;
pub mod inv;
pub mod map;
pub mod map_io;
pub mod ogc;
pub mod regions;
pub mod roles;
pub mod security;
pub mod system;
pub mod users;
pub mod wf;

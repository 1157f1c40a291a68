//! Tongguan's spatial engine: pure computation, no database and no HTTP.
//!
//! - [`crs`]: WGS-84 / CGCS2000 / GCJ-02 / BD-09 / Web Mercator transforms. Canonical
//!   storage is WGS-84 lon/lat.
//! - [`area`]: exact point-in-polygon with a documented boundary rule, and an index of many
//!   areas for judgments (空间判断: which region or grid is a point in).
//! - [`shape`]: query shapes (空间查询): polygon, circle and line buffer in geodesic metres,
//!   rectangle, administrative region — forward and inverse matching.
//! - [`points`]: a point layer's index: R-tree queries, grid clustering, heat grids and
//!   thinned tile contents, all updated in place.
//! - [`tile`] and [`mvt`]: the tile pyramid and Mapbox Vector Tile encoding.
//!
//! Answers are exact: orientation tests use adaptive exact arithmetic, and distance tests use
//! a fast approximation only where its proven error margin decides the answer, otherwise
//! Karney's geodesic.

pub mod area;
pub mod crs;
pub mod geodesic;
pub mod geojson;
pub mod mvt;
pub mod partition;
pub mod points;
pub mod rng;
pub mod shape;
pub mod tile;

pub use area::{AreaIndex, Location, PreparedArea};
pub use crs::Crs;
pub use geo_types;
pub use points::{cluster_points, heat_points, tile_subset, Cluster, HeatCell, PointIndex, TilePoints};
pub use shape::{MatchMode, PreparedShape, Shape};
pub use tile::TileId;

/// Errors from the spatial engine. Messages are for users (Chinese).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpatialError {
    #[error("几何图形无效: {0}")]
    InvalidGeometry(String),
    #[error(transparent)]
    UnknownCrs(#[from] crs::UnknownCrs),
}

impl SpatialError {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            SpatialError::InvalidGeometry(_) => "spatial.invalid_geometry",
            SpatialError::UnknownCrs(_) => "spatial.unknown_crs",
        }
    }
}

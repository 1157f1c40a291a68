//! Tongguan's map engine: a registry of layers, feature storage on SQLite and PostgreSQL, the
//! administrative boundaries, and per-layer in-memory spatial indexes built on `tg-spatial`.
//!
//! The database is the truth; the indexes are caches built on first use from the stored anchor
//! points and updated by every write through this service. Every read is scoped: a layer is
//! visible when its region and the user's region lie on one line of the hierarchy (a city-wide
//! layer is visible to a county user; a county's layer to the county and the city) and, when the
//! layer names roles, the user holds one of them; a feature is visible when its region lies in
//! the user's scope.

pub mod boundaries;
pub mod demo;
pub mod features;
pub mod layers;
pub mod ogc;
pub mod shapefile;
pub mod spatial;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tg_iam::{Iam, IamError};
use tg_spatial::{AreaIndex, PointIndex};

pub use features::{Feature, FeatureImportError, FeatureImportReport, FeatureInput};
pub use layers::{AttrDef, Layer, LayerInput};
pub use spatial::{JudgeRequest, Judgment, QueryRequest, ShapeInput};

/// Schema migrations of this engine.
pub const MIGRATIONS: &[tg_db::Migration] = &[tg_db::Migration {
    component: "map",
    version: 1,
    name: "map",
    sqlite: include_str!("../migrations/sqlite/0001_map.sql"),
    postgres: include_str!("../migrations/postgres/0001_map.sql"),
}];

/// The in-memory index of one layer: anchor points and each feature's region.
#[derive(Debug, Default)]
pub(crate) struct LayerData {
    pub index: PointIndex,
    pub regions: HashMap<u64, String>,
}

#[derive(Debug, Default)]
struct Caches {
    regions: RwLock<Option<Arc<AreaIndex<String>>>>,
    layers: RwLock<HashMap<i64, Arc<RwLock<LayerData>>>>,
    /// Progress of running imports, by (user id, client-chosen progress id).
    progress: std::sync::Mutex<HashMap<(i64, String), ImportProgress>>,
}

/// How far an import has got (polled by the page while the upload request runs).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImportProgress {
    /// `validating`, `writing` or `done`.
    pub stage: String,
    pub done: usize,
    pub total: usize,
    #[serde(skip)]
    pub at_ms: i64,
}

/// The map engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MapService {
    pub(crate) iam: Iam,
    caches: Arc<Caches>,
}

pub(crate) fn union(a: tg_spatial::geo_types::Rect, b: tg_spatial::geo_types::Rect) -> tg_spatial::geo_types::Rect {
    use tg_spatial::geo_types::{Coord, Rect};
    Rect::new(
        Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
        Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
    )
}

pub(crate) fn lock_err<T>(_: T) -> IamError {
    IamError::Internal("spatial index lock poisoned".into())
}

impl MapService {
    pub fn new(iam: Iam) -> Self {
        MapService { iam, caches: Arc::new(Caches::default()) }
    }

    pub(crate) fn now(&self) -> i64 {
        self.iam.clock().now_ms()
    }

    pub(crate) fn invalidate_regions(&self) -> Result<(), IamError> {
        *self.caches.regions.write().map_err(lock_err)? = None;
        Ok(())
    }

    pub(crate) fn drop_layer_cache(&self, layer_id: i64) -> Result<(), IamError> {
        self.caches.layers.write().map_err(lock_err)?.remove(&layer_id);
        Ok(())
    }

    /// The cached layer index if it has been built.
    pub(crate) fn cached_layer(&self, layer_id: i64) -> Result<Option<Arc<RwLock<LayerData>>>, IamError> {
        Ok(self.caches.layers.read().map_err(lock_err)?.get(&layer_id).cloned())
    }

    pub(crate) fn store_layer(&self, layer_id: i64, data: LayerData) -> Result<Arc<RwLock<LayerData>>, IamError> {
        let mut map = self.caches.layers.write().map_err(lock_err)?;
        Ok(map.entry(layer_id).or_insert_with(|| Arc::new(RwLock::new(data))).clone())
    }

    /// Records an import's progress (kept ten minutes, at most 1,000 entries).
    pub fn set_progress(&self, user: i64, id: Option<&str>, stage: &str, done: usize, total: usize) {
        let Some(id) = id else { return };
        let now = self.now();
        if let Ok(mut m) = self.caches.progress.lock() {
            m.retain(|_, p| now - p.at_ms < 600_000);
            if m.len() >= 1000 {
                return;
            }
            m.insert((user, id.to_string()), ImportProgress { stage: stage.into(), done, total, at_ms: now });
        }
    }

    /// The progress of one of the user's own imports.
    pub fn progress(&self, user: i64, id: &str) -> Option<ImportProgress> {
        self.caches.progress.lock().ok().and_then(|m| m.get(&(user, id.to_string())).cloned())
    }

    pub(crate) fn cached_regions(&self) -> Result<Option<Arc<AreaIndex<String>>>, IamError> {
        Ok(self.caches.regions.read().map_err(lock_err)?.clone())
    }

    pub(crate) fn store_regions(&self, idx: AreaIndex<String>) -> Result<Arc<AreaIndex<String>>, IamError> {
        let a = Arc::new(idx);
        *self.caches.regions.write().map_err(lock_err)? = Some(a.clone());
        Ok(a)
    }
}

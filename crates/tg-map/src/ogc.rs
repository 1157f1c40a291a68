//! Reading layers for OGC API – Features clients (QGIS, GDAL): items by bounding box and property
//! equality, paged by limit/offset, in the user's scope.

use serde_json::Value;
use sqlx::Row;
use tg_db::{Backend, SqlBuf};
use tg_iam::{IamError, IamResult, Principal};
use tg_spatial::geo_types::Rect;
use tg_spatial::Crs;

use crate::features::{from_row, Feature, SELECT};
use crate::layers::Layer;
use crate::MapService;

/// The largest `limit` a client may ask for.
pub const MAX_LIMIT: i64 = 10_000;

/// A page of items and the number matched.
pub struct Items {
    pub features: Vec<Feature>,
    pub matched: i64,
}

impl MapService {
    /// A layer by id (digits) or code, visible to the user.
    pub async fn collection(&self, actor: &Principal, id: &str) -> IamResult<Layer> {
        let layer_id = match id.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => self.layer_id_by_code(id).await?,
        };
        let Some(layer_id) = layer_id else { return Err(IamError::not_found("图层", "map.layer_not_found")) };
        self.layer(actor, layer_id).await
    }

    /// Items of a layer: features whose bounding box meets `bbox`, whose properties equal the
    /// given values (compared as text), in the user's scope, ordered by id.
    pub async fn items(
        &self,
        actor: &Principal,
        layer: &Layer,
        bbox: Option<Rect>,
        props: &[(String, String)],
        limit: i64,
        offset: i64,
    ) -> IamResult<Items> {
        for (k, _) in props {
            if !layer.attr_schema.iter().any(|a| &a.name == k) {
                return Err(IamError::field(k, format!("图层没有属性 {k}")));
            }
        }
        let backend = self.iam.db().backend();
        let (lo, hi) = actor.scope.bounds();
        let filter = |s: &mut SqlBuf| {
            s.push(" AND f.layer_id = ").bind(layer.id);
            s.push(" AND f.region_code >= ").bind(lo.as_str()).push(" AND f.region_code < ").bind(hi.as_str());
            if let Some(b) = bbox {
                s.push(" AND f.max_x >= ").bind(b.min().x).push(" AND f.min_x <= ").bind(b.max().x);
                s.push(" AND f.max_y >= ").bind(b.min().y).push(" AND f.min_y <= ").bind(b.max().y);
            }
            for (k, v) in props {
                let bool_attr = layer.attr_schema.iter().any(|a| &a.name == k && a.kind == "bool");
                match backend {
                    Backend::Sqlite => {
                        // json_extract gives 1/0 for JSON booleans.
                        let v = if bool_attr {
                            if v == "true" {
                                "1".to_string()
                            } else if v == "false" {
                                "0".to_string()
                            } else {
                                v.clone()
                            }
                        } else {
                            v.clone()
                        };
                        s.push(" AND CAST(json_extract(f.props, ").bind(format!("$.\"{k}\"")).push(") AS TEXT) = ").bind(v);
                    }
                    Backend::Postgres => {
                        s.push(" AND (f.props::jsonb ->> ").bind(k.clone()).push(") = ").bind(v.clone());
                    }
                }
            }
        };
        let mut c = SqlBuf::new("SELECT COUNT(*) FROM map_features f WHERE 1=1");
        filter(&mut c);
        let matched: i64 = c.query().fetch_one(self.iam.db().pool()).await?.try_get(0)?;
        let mut s = SqlBuf::new(SELECT);
        s.push(" WHERE 1=1");
        filter(&mut s);
        s.push(" ORDER BY f.id LIMIT ").bind(limit.clamp(1, MAX_LIMIT)).push(" OFFSET ").bind(offset.max(0));
        let features =
            s.query().fetch_all(self.iam.db().pool()).await?.iter().map(|r| from_row(r, Crs::Wgs84)).collect::<Result<_, _>>()?;
        Ok(Items { features, matched })
    }

    /// The bounding box of a layer's features in the user's scope (for collection extents).
    pub async fn extent(&self, actor: &Principal, layer: &Layer) -> IamResult<Option<[f64; 4]>> {
        let (lo, hi) = actor.scope.bounds();
        let row = sqlx::query(
            "SELECT MIN(min_x), MIN(min_y), MAX(max_x), MAX(max_y), COUNT(*) FROM map_features WHERE layer_id = $1 AND region_code >= $2 AND region_code < $3",
        )
        .bind(layer.id)
        .bind(lo.as_str())
        .bind(hi.as_str())
        .fetch_one(self.iam.db().pool())
        .await?;
        let n: i64 = row.try_get(4)?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some([row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?]))
    }
}

/// A feature as a GeoJSON Feature object.
pub fn geojson_feature(f: &Feature) -> Value {
    let mut props = match &f.properties {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    props.insert("name".into(), Value::String(f.name.clone()));
    props.insert("region_code".into(), Value::String(f.region_code.clone()));
    props.insert("region_name".into(), Value::String(f.region_name.clone()));
    serde_json::json!({"type": "Feature", "id": f.id, "geometry": f.geometry, "properties": props})
}

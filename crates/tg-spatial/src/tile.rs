//! The Web Mercator tile pyramid (z/x/y, y from the north as in XYZ and MVT).

use geo_types::{Coord, Rect};
use serde::{Deserialize, Serialize};

use crate::crs::{lonlat_to_world, world_to_lonlat};

/// A tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Checks the address is inside the pyramid (zoom 0 ..= 22).
    pub fn new(z: u8, x: u32, y: u32) -> Option<Self> {
        if z > 22 {
            return None;
        }
        let n = 1u64 << z;
        ((x as u64) < n && (y as u64) < n).then_some(TileId { z, x, y })
    }

    /// The tile's extent in world coordinates (0..1, y down).
    pub fn world_bounds(&self) -> (f64, f64, f64, f64) {
        let n = (1u64 << self.z) as f64;
        (self.x as f64 / n, self.y as f64 / n, (self.x + 1) as f64 / n, (self.y + 1) as f64 / n)
    }

    /// The tile's extent in lon/lat.
    pub fn lonlat_bounds(&self) -> Rect {
        let (x0, y0, x1, y1) = self.world_bounds();
        Rect::new(world_to_lonlat(x0, y1), world_to_lonlat(x1, y0))
    }

    /// Half-open ownership: the tile owns [x0, x1) × [y0, y1) of the world.
    pub fn owns_world(&self, wx: f64, wy: f64) -> bool {
        let (x0, y0, x1, y1) = self.world_bounds();
        wx >= x0 && wx < x1 && wy >= y0 && wy < y1
    }

    /// The tile containing a lon/lat point at a zoom.
    pub fn containing(c: Coord, z: u8) -> TileId {
        let (wx, wy) = lonlat_to_world(c);
        let n = 1u64 << z;
        let x = ((wx * n as f64) as u64).min(n - 1) as u32;
        let y = ((wy * n as f64) as u64).min(n - 1) as u32;
        TileId { z, x, y }
    }

    /// Projects lon/lat to this tile's integer-free pixel frame `0..extent` (may fall outside
    /// for points beyond the tile).
    pub fn to_tile_frame(&self, c: Coord, extent: u32) -> (f64, f64) {
        let (wx, wy) = lonlat_to_world(c);
        let n = (1u64 << self.z) as f64;
        let e = extent as f64;
        ((wx * n - self.x as f64) * e, (wy * n - self.y as f64) * e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::coord;

    #[test]
    fn yunfu_tiles() {
        // Yunfu's centre at zoom 10.
        let t = TileId::containing(coord! { x: 112.0445, y: 22.9151 }, 10);
        assert_eq!((t.x, t.y), (830, 445));
        let b = t.lonlat_bounds();
        assert!(b.min().x <= 112.0445 && b.max().x >= 112.0445 && b.min().y <= 22.9151 && b.max().y >= 22.9151);
        let (px, py) = t.to_tile_frame(coord! { x: 112.0445, y: 22.9151 }, 4096);
        assert!((0.0..4096.0).contains(&px) && (0.0..4096.0).contains(&py));
        assert!(TileId::new(3, 8, 0).is_none());
        assert!(TileId::new(23, 0, 0).is_none());
    }
}
